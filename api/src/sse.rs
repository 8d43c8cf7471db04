//! Progress streams (server-sent events), bounded. Each open stream polls PostgreSQL, so a
//! user may hold only `VIGIL_SSE_MAX_STREAMS_PER_USER` at once (429 beyond), and a stream
//! lives no longer than what authorized it: it ends when its access token expires or its user
//! is suspended, deleted or loses the permission (checked every few seconds), and when the job
//! finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;
use vigil_core::auth::Permission;
use vigil_core::users::{self, UserStatus};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::ApiState;

/// How often a stream re-reads its user.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// Open streams per user.
pub struct StreamSlots {
    max: usize,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One open stream; dropping it (the stream ended or the client went away) frees the slot.
pub struct StreamSlot {
    user: Uuid,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl StreamSlots {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            open: Arc::default(),
        }
    }

    pub fn take(&self, user: Uuid) -> Result<StreamSlot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(user).or_default();
        if *count >= self.max {
            let mut err = ApiError::rate_limited(5);
            err.message = format!(
                "at most {} progress streams may be open at once; close one or poll",
                self.max
            );
            return Err(err);
        }
        *count += 1;
        Ok(StreamSlot {
            user,
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// What a stream was authorized with, re-checked while it runs.
pub struct Authority {
    pub who: Principal,
    needs: Permission,
    checked: Instant,
}

impl Authority {
    pub fn new(who: Principal, needs: Permission) -> Self {
        Self {
            who,
            needs,
            checked: Instant::now(),
        }
    }

    /// Whether the stream may go on: the token has not expired and, re-read every
    /// [`RECHECK_EVERY`], the user is active and still has the permission. A database error
    /// ends the stream too; the client reconnects (and gets a 503 while it lasts).
    pub async fn still_valid(&mut self, state: &ApiState) -> bool {
        if Utc::now().timestamp() >= self.who.token_expires_at {
            return false;
        }
        if self.checked.elapsed() < RECHECK_EVERY {
            return true;
        }
        self.checked = Instant::now();
        let Ok(mut conn) = state.ctx.db.get().await else {
            return false;
        };
        match users::find_user_with_role(&mut conn, self.who.user.id).await {
            Ok(Some((user, role))) if user.status == UserStatus::Active => {
                let permissions = role.permissions();
                let allowed = permissions.allows(self.needs);
                self.who.user = user;
                self.who.role = role;
                self.who.permissions = permissions;
                allowed
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_user_and_freed_on_drop() {
        let slots = StreamSlots::new(2);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert_eq!(slots.take(a).err().unwrap().status.as_u16(), 429);
        let _other = slots.take(b).unwrap();
        drop(first);
        assert!(slots.take(a).is_ok());
    }
}
