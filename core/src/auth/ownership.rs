//! Who may change or delete what another user created. One rule for every record a user
//! creates (searches, videos, missing persons and their photos): its creator, while holding the
//! resource's write permission, or an admin (`jobs:admin`). A record without a creator (made by
//! the system, or by a user since deleted) is for admins only. Holding `videos:write` alone no
//! longer lets one operator delete another's footage and, through cascades, their results.

use uuid::Uuid;

use super::{Permission, Permissions};
use crate::error::{Error, Result};

/// Checks that `user` may change or delete a record created by `creator`; `write` is the
/// resource's write permission and `what` names the record in the refusal ("video").
pub fn authorize_owner(
    creator: Option<Uuid>,
    user: Uuid,
    permissions: &Permissions,
    write: Permission,
    what: &str,
) -> Result<()> {
    let owner = creator == Some(user) && permissions.allows(write);
    if owner || permissions.allows(Permission::JobsAdmin) {
        Ok(())
    } else if permissions.allows(write) {
        Err(Error::Forbidden(
            format!("only the {what}'s creator (or an admin) may do this").into(),
        ))
    } else {
        Err(Error::Forbidden(
            format!("missing permission {write}").into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(list: &[&str]) -> Permissions {
        Permissions::new(list.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn creators_with_the_write_permission_and_admins_only() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        let operator = perms(&["videos:write"]);
        let check = |creator, user, p: &Permissions| {
            authorize_owner(creator, user, p, Permission::VideosWrite, "video").is_ok()
        };
        assert!(check(Some(me), me, &operator));
        assert!(!check(Some(other), me, &operator));
        assert!(!check(None, me, &operator), "no creator: admins only");
        assert!(!check(Some(me), me, &perms(&["videos:read"])), "lost write");
        assert!(check(Some(other), me, &perms(&["*"])));
        assert!(check(None, me, &perms(&["jobs:admin"])));
    }
}
