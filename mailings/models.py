"""Campaigns, channels, messages, opt-outs — built by the mailings issue."""
