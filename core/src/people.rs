//! People Vigil takes attendance of: employees (`/faces`, seed 004) and students
//! (`/students`, seed 001). Like missing persons, each has a face profile holding their photos
//! and embeddings (`faces`), so enrollment and its quality checks are shared.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{face_embeddings, people};
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::faces::{self, Enrolled, ProfileKind};

text_enum! {
    /// What a person is to the organisation; decides their identifying number.
    pub enum PersonKind {
        Employee = "employee",
        Student = "student",
    }
}

impl PersonKind {
    fn profile_kind(self) -> ProfileKind {
        match self {
            PersonKind::Employee => ProfileKind::Employee,
            PersonKind::Student => ProfileKind::Student,
        }
    }

    /// The person's identifying number field, as the API names it.
    pub fn number_field(self) -> &'static str {
        match self {
            PersonKind::Employee => "employeeId",
            PersonKind::Student => "studentNumber",
        }
    }
}

text_enum! {
    /// `pending` until a photo enrolls; `archived` people are kept but not recognised.
    pub enum PersonStatus {
        Active = "active",
        Pending = "pending",
        Archived = "archived",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = people, check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: Uuid,
    pub profile_id: Uuid,
    pub kind: PersonKind,
    pub name: String,
    pub employee_id: Option<String>,
    pub student_number: Option<String>,
    pub email: Option<String>,
    pub department: Option<String>,
    pub role: Option<String>,
    pub year: Option<i32>,
    pub status: PersonStatus,
    pub notes: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Person {
    /// The number people are known by: employee id or student number.
    pub fn number(&self) -> &str {
        self.employee_id
            .as_deref()
            .or(self.student_number.as_deref())
            .unwrap_or_default()
    }
}

/// The describable fields, for create (all given) and update (those present; `Some(None)`
/// clears).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = people)]
pub struct Details {
    pub name: Option<String>,
    pub employee_id: Option<Option<String>>,
    pub student_number: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub role: Option<Option<String>>,
    pub year: Option<Option<i32>>,
    pub status: Option<PersonStatus>,
    pub notes: Option<Option<String>>,
}

fn trimmed(v: Option<Option<String>>) -> Option<Option<String>> {
    v.map(|v| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

impl Details {
    /// Trims text and turns blank optional text into "absent".
    pub fn normalized(self) -> Self {
        Self {
            name: self.name.map(|n| n.trim().to_string()),
            employee_id: trimmed(self.employee_id),
            student_number: trimmed(self.student_number),
            email: trimmed(self.email).map(|e| e.map(|e| e.to_lowercase())),
            department: trimmed(self.department),
            role: trimmed(self.role),
            notes: trimmed(self.notes),
            ..self
        }
    }

    fn validate(&self, kind: PersonKind) -> Result<()> {
        if let Some(name) = &self.name
            && (name.is_empty() || name.chars().count() > 200)
        {
            return Err(Error::validation(
                "name",
                "name must be 1 to 200 characters",
            ));
        }
        let number = |v: &Option<Option<String>>, field: &'static str| -> Result<()> {
            if let Some(Some(n)) = v
                && (n.chars().count() > 50 || n.chars().any(char::is_control))
            {
                return Err(Error::validation(
                    field,
                    format!("{field} must be at most 50 printable characters"),
                ));
            }
            Ok(())
        };
        number(&self.employee_id, "employeeId")?;
        number(&self.student_number, "studentNumber")?;
        // A person's identifying number cannot be removed, only changed.
        let (own, other) = match kind {
            PersonKind::Employee => (&self.employee_id, &self.student_number),
            PersonKind::Student => (&self.student_number, &self.employee_id),
        };
        if matches!(own, Some(None)) {
            return Err(Error::validation(
                kind.number_field(),
                format!("{} must not be empty", kind.number_field()),
            ));
        }
        if matches!(other, Some(Some(_))) {
            return Err(Error::validation(
                "kind",
                format!("an {kind} has no {}", other_field(kind)),
            ));
        }
        if let Some(Some(email)) = &self.email {
            crate::users::normalize_email(email)?;
        }
        if let Some(Some(year)) = self.year
            && !(1..=20).contains(&year)
        {
            return Err(Error::validation("year", "year must be between 1 and 20"));
        }
        for (v, field) in [(&self.department, "department"), (&self.role, "role")] {
            if let Some(Some(s)) = v
                && s.chars().count() > 200
            {
                return Err(Error::validation(
                    field,
                    format!("{field} must be at most 200 characters"),
                ));
            }
        }
        if let Some(Some(notes)) = &self.notes
            && notes.chars().count() > 5000
        {
            return Err(Error::validation(
                "notes",
                "notes must be at most 5000 characters",
            ));
        }
        Ok(())
    }
}

fn other_field(kind: PersonKind) -> &'static str {
    match kind {
        PersonKind::Employee => "studentNumber",
        PersonKind::Student => "employeeId",
    }
}

/// A unique-number clash in words users can act on.
fn number_taken(kind: PersonKind) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Conflict(_) => Error::conflict(format!(
            "{} is already registered to someone else",
            kind.number_field()
        )),
        other => other,
    }
}

/// Creates a person with a new face profile `profile` (chosen by the caller, see
/// `faces::create_profile_with_id`).
pub async fn create(
    conn: &mut AsyncPgConnection,
    kind: PersonKind,
    profile: Uuid,
    details: Details,
    created_by: Option<Uuid>,
) -> Result<Person> {
    let details = details.normalized();
    details.validate(kind)?;
    let name = details
        .name
        .clone()
        .ok_or_else(|| Error::validation("name", "name is required"))?;
    let number = match kind {
        PersonKind::Employee => details.employee_id.clone().flatten(),
        PersonKind::Student => details.student_number.clone().flatten(),
    }
    .ok_or_else(|| {
        Error::validation(
            kind.number_field(),
            format!("{} is required", kind.number_field()),
        )
    })?;
    conn.transaction::<_, Error, _>(async move |conn| {
        faces::create_profile_with_id(conn, profile, kind.profile_kind(), &name).await?;
        let id = Uuid::now_v7();
        diesel::insert_into(people::table)
            .values((
                people::id.eq(id),
                people::profile_id.eq(profile),
                people::kind.eq(kind),
                people::name.eq(&name),
                people::employee_id.eq((kind == PersonKind::Employee).then_some(&number)),
                people::student_number.eq((kind == PersonKind::Student).then_some(&number)),
                people::created_by.eq(created_by),
            ))
            .execute(conn)
            .await?;
        update_in(
            conn,
            id,
            Details {
                name: None,
                ..details
            },
        )
        .await
    })
    .await
    .map_err(number_taken(kind))
}

async fn update_in(conn: &mut AsyncPgConnection, id: Uuid, details: Details) -> Result<Person> {
    let name = details.name.clone();
    // An empty changeset is an error in diesel; `updated_at` is always set.
    diesel::update(people::table.find(id))
        .set((&details, people::updated_at.eq(Utc::now())))
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
    kind: PersonKind,
    details: Details,
) -> Result<Person> {
    let details = details.normalized();
    details.validate(kind)?;
    get_of_kind(conn, id, kind).await?;
    conn.transaction::<_, Error, _>(async move |conn| update_in(conn, id, details).await)
        .await
        .map_err(number_taken(kind))
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Person> {
    people::table
        .find(id)
        .select(Person::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such person"))
}

/// The person, if they are of `kind` (an employee is not found under `/students`).
pub async fn get_of_kind(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    kind: PersonKind,
) -> Result<Person> {
    let person = get(conn, id).await?;
    if person.kind != kind {
        return Err(Error::not_found(format!("no such {kind}")));
    }
    Ok(person)
}

pub async fn get_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<Person>> {
    Ok(people::table
        .filter(people::id.eq_any(ids))
        .select(Person::as_select())
        .load(conn)
        .await?)
}

/// Finds an employee by employee id or a student by student number.
pub async fn find_by_number(conn: &mut AsyncPgConnection, number: &str) -> Result<Person> {
    people::table
        .filter(
            people::employee_id
                .eq(number)
                .or(people::student_number.eq(number)),
        )
        .select(Person::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no person with number {number}")))
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<PersonKind>,
    /// Case-insensitive, exact.
    pub department: Option<String>,
    pub status: Option<PersonStatus>,
    /// Case-insensitive substring of the name or number.
    pub search: Option<String>,
}

diesel::define_sql_function! {
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<Person>> {
    let mut q = people::table.into_boxed();
    if let Some(kind) = filter.kind {
        q = q.filter(people::kind.eq(kind));
    }
    if let Some(status) = filter.status {
        q = q.filter(people::status.eq(status));
    }
    if let Some(department) = filter
        .department
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        q = q.filter(lower(people::department).eq(department.to_lowercase()));
    }
    if let Some(pattern) = filter
        .search
        .as_deref()
        .and_then(crate::db::contains_pattern)
    {
        q = q.filter(
            people::name
                .ilike(pattern.clone())
                .or(people::employee_id.ilike(pattern.clone()))
                .or(people::student_number.ilike(pattern)),
        );
    }
    q.order((people::created_at.desc(), people::id.desc()))
        .select(Person::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Deletes the person and their profile (photos and embeddings go with it); returns the
/// storage keys of their photos for the caller to delete.
pub async fn delete(conn: &mut AsyncPgConnection, person: &Person) -> Result<Vec<String>> {
    use crate::db::schema::face_photos;
    let keys: Vec<String> = face_photos::table
        .filter(face_photos::profile_id.eq(person.profile_id))
        .select(face_photos::object_key)
        .load(conn)
        .await?;
    let (id, profile) = (person.id, person.profile_id);
    conn.transaction::<_, Error, _>(async move |conn| {
        diesel::delete(people::table.find(id)).execute(conn).await?;
        faces::delete_profile(conn, profile).await
    })
    .await?;
    Ok(keys)
}

/// One enrolled embedding of a person who can be recognised (not archived).
#[derive(Debug, Clone)]
pub struct GalleryEntry {
    pub person_id: Uuid,
    pub enrolled: Enrolled,
}

/// Changes whenever [`gallery`] would return other rows (an embedding added or removed, a
/// person archived or restored, an embedding re-computed in place), without sending the
/// vectors: watchers compare it every half minute and reload the gallery only when it moved.
pub async fn gallery_fingerprint(conn: &mut AsyncPgConnection, model: &str) -> Result<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Fingerprint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        hash: i64,
    }
    let f: Fingerprint = diesel::sql_query(
        "SELECT count(*) AS n,
                coalesce(bit_xor(hashtextextended(e.id::text || p.id::text || e.vector::text, 0)), 0) AS hash
           FROM face_embeddings e JOIN people p ON p.profile_id = e.profile_id
          WHERE e.model = $1 AND p.status <> 'archived'",
    )
    .bind::<diesel::sql_types::Text, _>(model)
    .get_result(conn)
    .await?;
    Ok((f.n, f.hash))
}

/// Every embedding of `model` of people who are not archived.
pub async fn gallery(conn: &mut AsyncPgConnection, model: &str) -> Result<Vec<GalleryEntry>> {
    let rows: Vec<(Uuid, Uuid, Vec<f32>)> = face_embeddings::table
        .inner_join(people::table.on(people::profile_id.eq(face_embeddings::profile_id)))
        .filter(face_embeddings::model.eq(model))
        .filter(people::status.ne(PersonStatus::Archived))
        .select((
            people::id,
            face_embeddings::profile_id,
            face_embeddings::vector,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(person_id, profile_id, vector)| GalleryEntry {
            person_id,
            enrolled: Enrolled { profile_id, vector },
        })
        .collect())
}
