//! Starting a search: the request is checked against what it refers to (persons with an
//! enrolled photo, videos ready to be read), then the search and its parent job are written in
//! one transaction and the job published after the commit, so a worker never sees the job
//! without its search.

use std::collections::HashSet;

use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::notify::NotifyPolicy;
use super::{NewSearch, Search, SearchJob, SearchSettings, by_job, create};
use crate::context::AppContext;
use crate::error::{Error, Result};
use crate::faces::{self, PhotoStatus};
use crate::jobs::{self, Job, NewJob, store};
use crate::videos::{self, VideoStatus};
use crate::{email, missing_persons};

pub const MAX_PERSONS: usize = 50;
pub const MAX_VIDEOS: usize = 200;

/// What a client asks for.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub name: Option<String>,
    pub persons: Vec<Uuid>,
    pub videos: Vec<Uuid>,
    pub settings: SearchSettings,
    /// Extra addresses told about each appearance.
    pub notify: Vec<String>,
}

/// A request that passed [`SearchRequest::check`]: ids deduplicated, every one known and usable.
#[derive(Debug, Clone)]
pub struct CheckedSearch(SearchRequest);

impl SearchRequest {
    /// Validates the request and everything it names; the errors name the field and say what
    /// to do about it.
    pub async fn check(mut self, ctx: &AppContext) -> Result<CheckedSearch> {
        self.settings.validate()?;
        dedup(&mut self.persons);
        dedup(&mut self.videos);
        if self.persons.is_empty() || self.persons.len() > MAX_PERSONS {
            return Err(Error::validation(
                "missingPersonIds",
                format!("give 1 to {MAX_PERSONS} missing persons"),
            ));
        }
        if self.videos.is_empty() || self.videos.len() > MAX_VIDEOS {
            return Err(Error::validation(
                "videoIds",
                format!("give 1 to {MAX_VIDEOS} videos or streams"),
            ));
        }
        self.notify = NotifyPolicy::from_config(&ctx.config).check(&self.notify)?;
        if !self.notify.is_empty() {
            // The mailer's own address check: a bad address is a 422 now, not a failed email
            // later.
            let probe = email::Email {
                to: self.notify.clone(),
                subject: String::new(),
                text: String::new(),
                html: None,
            };
            ctx.mailer
                .build(&probe)
                .map_err(|e| Error::validation("notify", e.to_string()))?;
        }
        let mut conn = ctx.db.get().await?;
        let persons = missing_persons::get_many(&mut conn, &self.persons).await?;
        if let Some(missing) = self
            .persons
            .iter()
            .find(|id| !persons.iter().any(|p| p.id == **id))
        {
            return Err(Error::validation(
                "missingPersonIds",
                format!("no missing person {missing}"),
            ));
        }
        let profiles: Vec<Uuid> = persons.iter().map(|p| p.profile_id).collect();
        let enrolled: HashSet<Uuid> = faces::photo_counts(&mut conn, &profiles)
            .await?
            .into_iter()
            .filter(|(_, status, _)| *status == PhotoStatus::Enrolled)
            .map(|(profile, _, _)| profile)
            .collect();
        if let Some(p) = persons.iter().find(|p| !enrolled.contains(&p.profile_id)) {
            return Err(Error::validation(
                "missingPersonIds",
                format!(
                    "{} has no enrolled photo yet: upload a clear photo and wait for its enrollment",
                    p.name
                ),
            ));
        }
        let found = videos::get_many(&mut conn, &self.videos).await?;
        for id in &self.videos {
            let Some(v) = found.iter().find(|v| v.id == *id) else {
                return Err(Error::validation("videoIds", format!("no video {id}")));
            };
            if v.status != VideoStatus::Ready {
                let why = match &v.error {
                    Some(e) => format!("video {} cannot be searched: {e}", v.title),
                    None => format!(
                        "video {} is not ready yet ({}); wait for its probe",
                        v.title, v.status
                    ),
                };
                return Err(Error::validation("videoIds", why));
            }
        }
        Ok(CheckedSearch(self))
    }
}

fn dedup(ids: &mut Vec<Uuid>) {
    ids.sort();
    ids.dedup();
}

impl CheckedSearch {
    /// Writes the search and its parent job together, then publishes the job. A resubmission
    /// with the same idempotency key returns the first search (`created` false).
    pub async fn submit(
        self,
        ctx: &AppContext,
        created_by: Uuid,
        idempotency_key: Option<String>,
    ) -> Result<(Search, Job, bool)> {
        let r = self.0;
        let search_id = Uuid::now_v7();
        let job = NewJob::of(&SearchJob { search_id })
            .priority(r.settings.priority.job_priority())
            .created_by(Some(created_by))
            .idempotency_key(idempotency_key);
        let mut conn = ctx.db.get().await?;
        let (job, created, search) = conn
            .transaction::<_, Error, _>(async |conn| {
                let (job, created) = store::submit(conn, job).await?;
                let search = if created {
                    create(
                        conn,
                        NewSearch {
                            id: search_id,
                            job_id: job.id,
                            name: r.name.as_deref(),
                            settings: &r.settings,
                            notify: &r.notify,
                            persons: &r.persons,
                            videos: &r.videos,
                            created_by: Some(created_by),
                        },
                    )
                    .await?
                } else {
                    by_job(conn, job.id).await?.ok_or_else(|| {
                        Error::conflict("this Idempotency-Key was used for another kind of request")
                    })?
                };
                Ok((job, created, search))
            })
            .await?;
        if created {
            drop(conn);
            jobs::publish_now(ctx, &job).await;
        }
        Ok((search, job, created))
    }
}
