"""A person's own account: password, reset by email, email address, sessions.

Email goes through a real SMTP server process (aiosmtpd) and is read back
from its mailbox.
"""

import re

import pytest
from django.test import Client

from accounts.models import AuditEvent, User
from accounts.sessions import WebSession, public_id
from accounts.tests.factories import PASSWORD, UserFactory
from atlas.testing.smtp import SmtpServer

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an entirely new passphrase"


def signed_in(user, agent="TestBrowser/1.0"):
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post("/login", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def smtp(tmp_path, settings):
    with SmtpServer(tmp_path) as server:
        for name, value in server.settings().items():
            setattr(settings, name, value)
        yield server


def test_a_password_changes_only_with_the_current_one_and_other_sessions_end(smtp):
    ada = UserFactory(username="ada")
    here, elsewhere = signed_in(ada), signed_in(ada, agent="Phone/2.0")

    wrong = here.post(
        "/settings/password",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    ada.refresh_from_db()
    assert ada.check_password(PASSWORD)

    response = here.post(
        "/settings/password",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password changed. 1 other session signed out." in response.content.decode()
    ada.refresh_from_db()
    assert ada.check_password(NEW_PASSWORD)
    assert here.get("/settings/account").status_code == 200
    assert elsewhere.get("/settings/account").status_code == 302
    [message] = smtp.wait_for(1)
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Your Atlas password changed"


def test_a_password_reset_link_works_once(smtp):
    ada = UserFactory(username="ada")
    signed_in(ada)
    response = Client().post("/password-reset", {"email": "ADA@example.com"})
    assert response.status_code == 302
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Reset your Atlas password"
    link = re.search(r"http://testserver(/password-reset/\S+)", message.get_content()).group(1)

    client = Client()
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    form_url = form.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    ada.refresh_from_db()
    assert ada.check_password(NEW_PASSWORD)
    assert not WebSession.objects.filter(user=ada).exists()

    again = Client().get(link, follow=True)
    assert "This link does not work" in again.content.decode()
    assert Client().post("/login", {"username": "ada", "password": NEW_PASSWORD}).status_code == 302


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(smtp):
    response = Client().post("/password-reset", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent"
    assert smtp.messages() == []


def test_a_new_email_address_counts_once_its_link_is_opened(smtp):
    ada = UserFactory(username="ada")
    client = signed_in(ada)
    wrong = client.post("/settings/email", {"email": "ada@new.example", "password": "nope"})
    assert "That password is not right." in wrong.content.decode()

    client.post("/settings/email", {"email": "ada@new.example", "password": PASSWORD})
    [message] = smtp.wait_for(1)
    assert message["To"] == "ada@new.example"
    link = re.search(r"http://testserver(/settings/email/confirm/\S+)", message.get_content())[1]
    ada.refresh_from_db()
    assert ada.email == "ada@example.com"

    assert "Make <strong>ada@new.example</strong>" in client.get(link).content.decode()
    assert client.post(link).status_code == 302
    ada.refresh_from_db()
    assert ada.email == "ada@new.example"
    [told] = [m for m in smtp.wait_for(2) if m["To"] == "ada@example.com"]
    assert told["Subject"] == "Your Atlas email address changed"

    used = client.post(link, follow=True)
    assert "This link was used already." in used.content.decode()
    stranger = Client()
    stranger.force_login(UserFactory(username="eve"))
    assert stranger.get(link).status_code == 404


def test_a_person_lists_their_sessions_and_ends_one(db):
    ada = UserFactory(username="ada")
    here, phone = signed_in(ada), signed_in(ada, agent="Phone/2.0")
    page = here.get("/settings/account").content.decode()
    assert "TestBrowser/1.0" in page and "Phone/2.0" in page
    assert "this session" in page
    phone_session = WebSession.objects.get(user=ada, user_agent="Phone/2.0")
    assert phone_session.address == "127.0.0.1"
    assert phone_session.session_key not in page

    response = here.post(f"/settings/sessions/{public_id(phone_session.session_key)}/end")
    assert response.status_code == 302
    assert phone.get("/settings/account").status_code == 302
    assert here.get("/settings/account").status_code == 200


def test_nobody_ends_someone_elses_session(db):
    ada, eve = UserFactory(username="ada"), UserFactory(username="eve")
    signed_in(ada)
    target = WebSession.objects.get(user=ada)
    response = signed_in(eve).post(f"/settings/sessions/{target.public_id}/end")
    assert response.status_code == 404
    assert WebSession.objects.filter(pk=target.pk).exists()


def test_ending_every_other_session_keeps_this_one(db):
    ada = UserFactory(username="ada")
    here = signed_in(ada)
    others = [signed_in(ada, agent=f"Other/{n}") for n in range(3)]
    here.post("/settings/sessions/end-others")
    assert WebSession.objects.filter(user=ada).count() == 1
    assert all(c.get("/settings/account").status_code == 302 for c in others)
    assert AuditEvent.objects.filter(action="user.session_end", actor=ada).count() == 1


def test_the_account_page_costs_the_same_queries_for_more_sessions(db, django_assert_num_queries):
    ada = User.objects.get(pk=UserFactory(username="ada").pk)
    client = signed_in(ada)
    client.get("/settings/account")
    # session, user, sessions, two-factor status, recovery codes left
    with django_assert_num_queries(5):
        client.get("/settings/account")
    for n in range(4):
        signed_in(ada, agent=f"Other/{n}")
    with django_assert_num_queries(5):
        client.get("/settings/account")
