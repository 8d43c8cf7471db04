//! Missing persons: who is searched for. Their photos and embeddings live on a face profile
//! (`faces`), so the same enrollment serves every kind of person.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::missing_persons;
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::faces::{self, ProfileKind};

text_enum! {
    /// Whether the person is still being looked for.
    pub enum MissingPersonStatus {
        Missing = "missing",
        Found = "found",
        Closed = "closed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = missing_persons, check_for_backend(diesel::pg::Pg))]
pub struct MissingPerson {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub name: String,
    pub age: Option<i32>,
    pub gender: Option<String>,
    pub height_cm: Option<i32>,
    pub description: Option<String>,
    pub last_seen_location: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub status: MissingPersonStatus,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The describable fields, for create (all) and update (those present).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = missing_persons)]
pub struct Details {
    pub name: Option<String>,
    pub age: Option<Option<i32>>,
    pub gender: Option<Option<String>>,
    pub height_cm: Option<Option<i32>>,
    pub description: Option<Option<String>>,
    pub last_seen_location: Option<Option<String>>,
    pub last_seen_at: Option<Option<DateTime<Utc>>>,
    pub notes: Option<Option<String>>,
    pub status: Option<MissingPersonStatus>,
}

impl Details {
    pub fn validate(&self) -> Result<()> {
        if let Some(name) = &self.name
            && name.trim().is_empty()
        {
            return Err(Error::validation("name", "name must not be empty"));
        }
        if let Some(Some(age)) = self.age
            && !(0..=150).contains(&age)
        {
            return Err(Error::validation("age", "age must be between 0 and 150"));
        }
        if let Some(Some(h)) = self.height_cm
            && !(20..=300).contains(&h)
        {
            return Err(Error::validation(
                "heightCm",
                "heightCm must be between 20 and 300",
            ));
        }
        Ok(())
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    details: Details,
    created_by: Option<Uuid>,
) -> Result<MissingPerson> {
    details.validate()?;
    let name = details
        .name
        .clone()
        .ok_or_else(|| Error::validation("name", "name is required"))?;
    conn.transaction::<_, Error, _>(async move |conn| {
        let profile = faces::create_profile(conn, ProfileKind::MissingPerson, &name).await?;
        let id = Uuid::now_v7();
        diesel::insert_into(missing_persons::table)
            .values((
                missing_persons::id.eq(id),
                missing_persons::profile_id.eq(profile),
                missing_persons::name.eq(&name),
                missing_persons::created_by.eq(created_by),
            ))
            .execute(conn)
            .await?;
        let details = Details {
            name: None,
            ..details
        };
        update_in(conn, id, details).await
    })
    .await
}

async fn update_in(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    details: Details,
) -> Result<MissingPerson> {
    let name = details.name.clone();
    // An empty changeset is an error in diesel; `updated_at` is always set.
    diesel::update(missing_persons::table.find(id))
        .set((&details, missing_persons::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    let person = get(conn, id).await?;
    if let Some(name) = name {
        faces::rename_profile(conn, person.profile_id, &name).await?;
    }
    Ok(person)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    details: Details,
) -> Result<MissingPerson> {
    details.validate()?;
    get(conn, id).await?;
    conn.transaction::<_, Error, _>(async move |conn| update_in(conn, id, details).await)
        .await
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<MissingPerson> {
    missing_persons::table
        .find(id)
        .select(MissingPerson::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such missing person"))
}

pub async fn get_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<MissingPerson>> {
    Ok(missing_persons::table
        .filter(missing_persons::id.eq_any(ids))
        .select(MissingPerson::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<MissingPersonStatus>,
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<MissingPerson>> {
    let mut q = missing_persons::table.into_boxed();
    if let Some(status) = filter.status {
        q = q.filter(missing_persons::status.eq(status));
    }
    if let Some(pattern) = filter.q.as_deref().and_then(crate::db::contains_pattern) {
        q = q.filter(missing_persons::name.ilike(pattern));
    }
    q.order((
        missing_persons::created_at.desc(),
        missing_persons::id.desc(),
    ))
    .select(MissingPerson::as_select())
    .paginate(page)
    .load_page(conn)
    .await
}

/// Deletes the person, their profile, photos, embeddings and search results; the database
/// lists the photos and thumbnails for deletion from storage (`storage::orphans`).
pub async fn delete(conn: &mut AsyncPgConnection, person: &MissingPerson) -> Result<()> {
    let (id, profile) = (person.id, person.profile_id);
    conn.transaction::<_, Error, _>(async move |conn| {
        diesel::delete(missing_persons::table.find(id))
            .execute(conn)
            .await?;
        faces::delete_profile(conn, profile).await
    })
    .await
}
