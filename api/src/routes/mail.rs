use std::sync::Arc;

use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use vigil_core::auth::Permission;
use vigil_core::email::Email;
use vigil_core::jobs::NewJob;
use vigil_core::outbox::EmailPayload;

use super::Tag;
use super::jobs::{Accepted, submit};
use crate::auth::BearerAuth;
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SendMail {
    #[oai(validator(min_items = 1, max_items = 100))]
    pub to: Vec<String>,
    #[oai(validator(min_length = 1, max_length = 998))]
    pub subject: String,
    #[oai(validator(max_length = 1000000))]
    pub text: String,
    pub html: Option<String>,
}

pub struct MailApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/mail", tag = "Tag::Mail")]
impl MailApi {
    /// Send an email (admin) as an `email` job. With an `Idempotency-Key`, a resubmission
    /// returns the first job and the email goes out once.
    #[oai(path = "/send", method = "post", operation_id = "mail.send")]
    async fn send(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<SendMail>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::MailSend)?;
        let b = body.0;
        // Check addresses now so a bad one is a 422, not a failed job later.
        self.state
            .ctx
            .mailer
            .build(&Email {
                to: b.to.clone(),
                subject: b.subject.clone(),
                text: b.text.clone(),
                html: b.html.clone(),
            })
            .map_err(ApiError::from)?;
        let dedupe_key = match &idempotency_key.0 {
            Some(key) => format!("api:{}:{key}", auth.0.user.id),
            None => format!("api:{}", uuid::Uuid::now_v7()),
        };
        let payload = EmailPayload {
            to: b.to,
            subject: b.subject,
            text: b.text,
            html: b.html,
            dedupe_key,
        };
        let job = NewJob::of(&payload);
        submit(&self.state, req, &auth.0, job, idempotency_key.0).await
    }
}
