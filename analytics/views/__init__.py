"""The analytics pages: each reads its filter form, asks a selector, and hands the chart and
the table to views.base, which draws the page or writes the CSV / XLSX file."""
