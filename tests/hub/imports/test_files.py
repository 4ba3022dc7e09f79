import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from hub.imports.contacts import ContactTable
from hub.imports.files import table_read
from tests.hub.imports.tables import csv_bytes, xlsx_bytes

ROWS = [["Фамилия", "Имя", "Телефон", "E-mail"],
        ["Иванова", "Анна", "8 912 345-67-89", "anna@example.ru"],
        ["Петров", "Пётр", "+7 (913) 000-00-01", ""]]


def read(name: str, data: bytes):  # type: ignore[no-untyped-def]
    rows, warnings = ContactTable().read(name, data)
    return [(r.number, r.values) for r in rows], warnings


def error_of(name: str, data: bytes) -> str:
    with pytest.raises(ValidationError) as error:
        ContactTable().read(name, data)
    return " ".join(error.value.messages)


EXPECTED = [(2, {"last_name": "Иванова", "first_name": "Анна", "phone": "8 912 345-67-89", "email": "anna@example.ru"}),
            (3, {"last_name": "Петров", "first_name": "Пётр", "phone": "+7 (913) 000-00-01"})]


@pytest.mark.parametrize("delimiter", [";", ",", "\t"], ids=["semicolon", "comma", "tab"])
def test_any_usual_delimiter_is_found_from_the_header(delimiter):
    assert read("clients.csv", csv_bytes(ROWS, delimiter=delimiter)) == (EXPECTED, [])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251", "utf-16"])
def test_utf8_with_and_without_bom_windows_1251_and_excel_unicode_text(encoding):
    delimiter = "\t" if encoding == "utf-16" else ";"
    assert read("clients.csv", csv_bytes(ROWS, delimiter=delimiter, encoding=encoding)) == (EXPECTED, [])


def test_headers_match_whatever_the_case_spaces_or_language_and_unknown_ones_are_reported():
    header = ["  ТЕЛЕФОН ", "e_mail", "first_name", "Дата  рождения", "Комментарий"]
    rows, warnings = read("x.csv", csv_bytes([header, ["89123456789", "a@b.ru", "Анна", "01.05.1990", "vip"]]))
    assert rows == [(2, {"phone": "89123456789", "email": "a@b.ru", "first_name": "Анна", "birth_date": "01.05.1990"})]
    assert warnings == ["Столбцы не распознаны и пропущены: Комментарий."]


def test_blank_rows_are_skipped_but_rows_keep_their_spreadsheet_numbers():
    data = csv_bytes([[], ["Телефон"], [""], ["89123456789"], ["", " "], ["89123456780"]])
    assert [number for number, _ in read("x.csv", data)[0]] == [4, 6]


def test_xlsx_cells_keep_their_types():
    data = xlsx_bytes([["Телефон", "Дата рождения"], [79123456789, dt.datetime(1990, 5, 1)]],
                      number_formats={2: "DD.MM.YYYY"})
    assert read("x.xlsx", data)[0] == [(2, {"phone": 79123456789, "birth_date": dt.datetime(1990, 5, 1)})]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("x.csv", b"", "Файл пустой."),
    ("x.csv", "Телефон\r\n".encode(), "только заголовок"),
    ("x.csv", b"\r\n \r\n", "нет ни заголовка, ни данных"),
    ("x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "Нужен файл CSV или XLSX, а не «.png»"),
    ("x.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x98", "не похож на таблицу CSV"),
    ("x.xlsx", b"PK\x03\x04 broken archive", "XLSX"),
    ("x.xlsx", b"just some text", "это не книга Excel"),
    ("x.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "XLS) не поддерживается"),
    ("x.csv", csv_bytes([["Комментарий", "Сумма"], ["x", "1"]]), "Не найдено ни одного известного столбца"),
    ("x.csv", csv_bytes([["Телефон", "тел"], ["1", "2"]]), "«Телефон» встречается дважды"),
    ("x.csv", csv_bytes([["Фамилия", "Имя"], ["Иванова", "Анна"]]), "нет столбца «ID» или «Телефон»"),
], ids=["empty", "header-only", "blank", "png-name", "binary", "broken-zip", "text-as-xlsx", "xls",
        "no-columns", "twice", "no-key-column"])
def test_bad_files_are_readable_errors(name, data, message):
    assert message in error_of(name, data)


def test_a_zip_that_is_not_a_workbook_is_a_readable_error():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "не является книгой Excel" in error_of("x.xlsx", buffer.getvalue())


def test_size_and_row_limits_are_explained(settings):
    settings.HUB_IMPORT_MAX_BYTES = 1024 * 1024
    assert "Файл больше 1 МБ" in error_of("x.csv", b"a" * (1024 * 1024 + 1))
    settings.HUB_IMPORT_MAX_ROWS = 3
    rows = [["Телефон"], *[[f"8912345678{i}"] for i in range(4)]]
    assert "больше 3 строк" in error_of("x.csv", csv_bytes(rows))
    assert "больше 3 строк" in error_of("x.xlsx", xlsx_bytes(rows))
    assert len(read("x.csv", csv_bytes(rows[:4]))[0]) == 3


def test_table_read_alone_reports_the_header_and_kind():
    table = table_read("x.xlsx", xlsx_bytes([["a", "b"], [1, 2]]))
    assert (table.header, table.kind, table.rows[0].cells) == (("a", "b"), "xlsx", (1, 2))


def test_an_xlsx_that_unpacks_to_too_much_is_refused_before_it_is_read():
    import io
    import zipfile

    from django.core.exceptions import ValidationError

    from hub.imports.files import MAX_UNPACKED, table_read

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"<" + b"a" * (MAX_UNPACKED + 1))
    assert len(buffer.getvalue()) < 1024 * 1024  # small to upload
    with pytest.raises(ValidationError, match="распаковывается в 200 МБ"):
        table_read("bomb.xlsx", buffer.getvalue())
