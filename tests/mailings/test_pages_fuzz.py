"""The two public pages a message links to (/m/nps/<token>/, /m/unsubscribe/<token>/) under
random tokens and random answers: never a 5xx; an unknown or forged token is a 404 that says
so; a bad answer is a 400 that shows why and changes nothing; whatever a client typed is shown
back escaped."""

from __future__ import annotations

from django.core import signing
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.models.consent import Purpose
from hub.services.consent import consent_is_active
from mailings.models import Campaign, NpsSurvey
from mailings.services.outgoing import OPTOUT_SALT, optout_link

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOKENS = st.text(st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=80) | st.sampled_from(
    ["0", "-1", "1:abc", "a" * 32, "..", "%00", "1:" + "x" * 500])
SCORES = st.sampled_from(["", "0", "10", "11", "-1", "5.5", "٣", "1e3", "NaN", "x" * 50]) | st.text(max_size=6)
COMMENTS = st.sampled_from(["", "Отлично", "</textarea><script>alert(1)</script>", "a\x00b", "x" * 2001,
                            "'; DROP TABLE mailings_npssurvey; --", "{{ 7|add:7 }}"]) | st.text(max_size=40)


def _quoted(token: str) -> str:
    from urllib.parse import quote

    return quote(token, safe="")


@FUZZ
@given(token=TOKENS, post=st.booleans())
def test_random_tokens_are_a_404_with_a_reason(db, token, post):
    for page in ("nps", "unsubscribe"):
        path = f"/m/{page}/{_quoted(token)}/"
        answer = Client().post(path, {"score": "5"}) if post else Client().get(path)
        assert answer.status_code in (404, 405), (path, answer.status_code)
        assert answer.content.strip()


def test_a_forged_or_stale_unsubscribe_link_changes_nothing(db, person):
    anna = person("Анна")
    good = optout_link(anna.pk).rsplit("/", 2)[-2]
    forged = signing.Signer(salt="another-salt").sign(str(anna.pk))
    other = signing.Signer(salt=OPTOUT_SALT).sign("999999")
    for token in (forged, other, good + "x", good.replace(":", ":A", 1)):
        assert Client().post(f"/m/unsubscribe/{token}/").status_code == 404
    assert consent_is_active(anna, Purpose.MARKETING)
    assert Client().post(f"/m/unsubscribe/{good}/").status_code == 200
    assert not consent_is_active(anna, Purpose.MARKETING)


def test_random_nps_answers_never_crash_and_are_shown_escaped(db, campaign, person, email_channel):
    survey = NpsSurvey.objects.create(campaign=campaign(Campaign.Kind.NPS, crm_connection=email_channel, to_stage="x"),
                                      contact=person("Анна"))
    path = f"/m/nps/{survey.token}/"

    @FUZZ
    @given(score=SCORES, comment=COMMENTS, preset=SCORES)
    def run(score: str, comment: str, preset: str) -> None:
        before = NpsSurvey.objects.values("score", "comment").get(pk=survey.pk)
        answer = Client().post(path, {"score": score, "comment": comment})
        assert answer.status_code in (200, 400), answer.status_code
        if answer.status_code == 400:
            assert b'class="error"' in answer.content
            assert NpsSurvey.objects.values("score", "comment").get(pk=survey.pk) == before
        page = Client().get(f"{path}?score={_quoted(preset)}")
        assert page.status_code == 200 and b"<script>" not in page.content

    run()
    Client().post(path, {"score": "9", "comment": "</textarea><script>alert(1)</script>"})
    survey.refresh_from_db()
    assert survey.comment == "</textarea><script>alert(1)</script>"  # stored as typed
    page = Client().get(path).content.decode()
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
