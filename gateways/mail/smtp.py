"""Sending a notice through the configured SMTP server, with the standard library.

One connection per message: a run sends a few dozen at most, and a connection the
server dropped between them cannot fail the next. With STARTTLS, or with TLS from the
first byte (SMTPS, port 465; one of the two is required in production), the server's
certificate is checked against the system's CAs before the login and the message cross
the network.
"""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from services.notifications import MailMessage, MailNotSent
from services.settings import Settings


class SmtpMailer:
    """services.notifications.Mailer over smtplib."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        implicit_tls: bool = False,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.sender = sender
        self.username, self.password = username, password
        self.starttls = starttls and not implicit_tls
        self.implicit_tls = implicit_tls
        self.timeout = timeout
        self.tls_context = tls_context

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpMailer | None":
        """The configured server, or None where SIMPUL_SMTP_HOST is unset (no e-mail)."""
        if not settings.smtp_host:
            return None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_implicit_tls,
            timeout=settings.smtp_timeout_seconds,
        )

    def _context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def send(self, message: MailMessage) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail.set_content(message.body)
        try:
            with self._connect() as server:
                if self.starttls:
                    server.starttls(context=self._context())
                if self.username is not None and self.password is not None:
                    server.login(self.username, self.password)
                server.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:
            # The kind of failure and the server's code, never the message or the address.
            code = getattr(error, "smtp_code", None)
            raise MailNotSent(
                f"{type(error).__name__}{f' {code}' if code else ''} from {self.host}:{self.port}"
            ) from None
