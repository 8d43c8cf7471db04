//! Email over SMTP with lettre. Delivery is a plain send here; the job system adds the outbox
//! that makes one logical email go out once.

use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Email {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("configured", &self.transport.is_some())
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// `smtp_url` unset leaves email disabled: sends fail with a clear reason instead of
    /// silently dropping mail.
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Self> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| Error::Config(format!("VIGIL_MAIL_FROM {from:?}: {e}")))?;
        let transport = smtp_url
            .map(|url| {
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|b| b.timeout(Some(std::time::Duration::from_secs(15))).build())
                    .map_err(|e| Error::Config(format!("VIGIL_SMTP_URL: {e}")))
            })
            .transpose()?;
        Ok(Self { transport, from })
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    fn transport(&self) -> Result<&AsyncSmtpTransport<Tokio1Executor>> {
        self.transport.as_ref().ok_or_else(|| {
            Error::unavailable("smtp", "email is not configured (set VIGIL_SMTP_URL)")
        })
    }

    /// Builds the message; invalid addresses are a validation error, not a delivery failure.
    pub fn build(&self, email: &Email) -> Result<Message> {
        if email.to.is_empty() {
            return Err(Error::validation(
                "to",
                "at least one recipient is required",
            ));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(&email.subject);
        for to in &email.to {
            let mailbox: Mailbox = to.parse().map_err(|e| {
                Error::validation("to", format!("{to:?} is not a valid address: {e}"))
            })?;
            builder = builder.to(mailbox);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone());
        let message = match &email.html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
            None => builder.singlepart(text),
        };
        message.map_err(|e| Error::validation("email", e.to_string()))
    }

    pub async fn send(&self, email: &Email) -> Result<()> {
        let message = self.build(email)?;
        self.transport()?
            .send(message)
            .await
            .map_err(|e| Error::unavailable("smtp", e))?;
        Ok(())
    }

    /// Readiness: opens a connection and says NOOP.
    pub async fn check(&self) -> Result<()> {
        match self.transport()?.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::unavailable("smtp", "server did not accept NOOP")),
            Err(e) => Err(Error::unavailable("smtp", e)),
        }
    }
}
