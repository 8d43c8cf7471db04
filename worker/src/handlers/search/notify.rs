//! Search emails, through the outbox so each is sent once however often a job runs: one per
//! appearance (to reviewers and the search's list), one summary per search (to its creator).

use std::time::Duration;

use vigil_core::auth::Permission;
use vigil_core::email::Email;
use vigil_core::jobs::JobStatus;
use vigil_core::searches::Search;
use vigil_core::searches::results::{self, Appearance};
use vigil_core::{outbox, users};

use super::ChildSetup;
use crate::context::{JobContext, JobError};

/// Thumbnail links in emails stay valid this long: a day to review an appearance, not a week
/// of a face picture reachable by whoever the email is forwarded to.
const LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// `mm:ss` (or `h:mm:ss`) of a position in a video.
pub fn clock(secs: f64) -> String {
    let total = secs.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

async fn recipients(
    job: &JobContext,
    search: &Search,
    reviewers: bool,
) -> Result<Vec<String>, JobError> {
    let mut to = search.notify.clone();
    if reviewers {
        let mut conn = job.db().await?;
        to.extend(
            users::active_emails_with_permission(&mut conn, Permission::SearchesReview).await?,
        );
    }
    to.sort();
    to.dedup();
    Ok(to)
}

fn search_link(job: &JobContext, search: &Search) -> String {
    let base = job
        .app
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", job.app.config.http_addr));
    format!("{base}/api/v1/searches/{}", search.id)
}

pub async fn appearance(
    job: &JobContext,
    setup: &ChildSetup,
    a: &Appearance,
) -> Result<(), JobError> {
    let to = recipients(job, &setup.search, setup.settings.notify_reviewers).await?;
    if !to.is_empty() {
        let name = setup
            .names
            .get(&a.missing_person_id)
            .cloned()
            .unwrap_or_else(|| "a searched person".into());
        let when = match a.started_at {
            Some(at) => format!("at {} (live)", at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => format!(
                "from {} to {} in the video",
                clock(a.start_secs),
                clock(a.end_secs)
            ),
        };
        let thumbnail = job
            .app
            .storage
            .download_url(&a.thumbnail_key, LINK_TTL)
            .await
            .unwrap_or_default();
        let text = format!(
            "Vigil found a possible appearance of {name} in \"{video}\" {when}.\n\n\
             Best frame at {best} (similarity {score:.2}, distance {dist:.3}, {frames} matching frames).\n\
             Thumbnail: {thumbnail}\n\
             Search: {link}\n\n\
             Please review it before acting on it.",
            video = setup.video.title,
            best = clock(a.best_secs),
            score = a.best_score,
            dist = a.best_distance,
            frames = a.frames,
            link = search_link(job, &setup.search),
        );
        let email = Email {
            to,
            subject: format!(
                "Vigil: possible sighting of {name} in {}",
                setup.video.title
            ),
            text,
            html: None,
        };
        outbox::send_email(
            &job.app,
            email,
            format!("appearance:{}", a.id),
            setup.search.created_by,
        )
        .await?;
    }
    let mut conn = job.db().await?;
    results::mark_notified(&mut conn, a.id).await?;
    Ok(())
}

/// The summary email to the search's creator.
pub async fn summary(
    job: &JobContext,
    search: &Search,
    status: JobStatus,
    lines: &[String],
) -> Result<(), JobError> {
    let Some(creator) = search.created_by else {
        return Ok(());
    };
    let mut conn = job.db().await?;
    let Ok(user) = users::find_user(&mut conn, creator).await else {
        return Ok(());
    };
    drop(conn);
    let title = search.name.clone().unwrap_or_else(|| "search".into());
    let text = format!(
        "Your Vigil search \"{title}\" has finished ({status}).\n\n{}\n\nDetails: {}",
        lines.join("\n"),
        search_link(job, search)
    );
    let email = Email {
        to: vec![user.email],
        subject: format!("Vigil: search \"{title}\" {status}"),
        text,
        html: None,
    };
    outbox::send_email(
        &job.app,
        email,
        format!("search-summary:{}", search.id),
        Some(creator),
    )
    .await?;
    Ok(())
}
