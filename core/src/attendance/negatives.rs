//! Negative examples: faces a reviewer said were not the predicted person. Stored sealed like
//! every descriptor Vigil keeps outside the enrollment gallery.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::sealed::Sealer;
use crate::db::schema::face_negatives;
use crate::error::{Error, Result};
use crate::faces::DESCRIPTOR_LEN;

/// Sealing context of face descriptors (binds the ciphertext to its use).
const CONTEXT: &str = "face-descriptor";

pub fn seal_descriptor(sealer: &Sealer, descriptor: &[f32]) -> String {
    let bytes: Vec<u8> = descriptor.iter().flat_map(|v| v.to_le_bytes()).collect();
    sealer.seal(&bytes, CONTEXT)
}

pub fn open_descriptor(sealer: &Sealer, sealed: &str) -> Result<Vec<f32>> {
    let bytes = sealer.open(sealed, CONTEXT)?;
    if bytes.len() != DESCRIPTOR_LEN * 4 {
        return Err(Error::Internal(anyhow::anyhow!(
            "a sealed descriptor has {} bytes",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Where a negative example's face was seen: a device capture or a camera detection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Source {
    pub capture: Option<Uuid>,
    pub detection: Option<Uuid>,
}

/// Records that `descriptor` (sealed) is not `person`.
pub async fn add(
    conn: &mut AsyncPgConnection,
    person: Uuid,
    sealed_descriptor: &str,
    source: Source,
    created_by: Option<Uuid>,
) -> Result<()> {
    diesel::insert_into(face_negatives::table)
        .values((
            face_negatives::id.eq(Uuid::now_v7()),
            face_negatives::person_id.eq(person),
            face_negatives::descriptor.eq(sealed_descriptor),
            face_negatives::capture_id.eq(source.capture),
            face_negatives::detection_id.eq(source.detection),
            face_negatives::created_by.eq(created_by),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The negative examples of `person`, opened.
pub async fn of_person(
    conn: &mut AsyncPgConnection,
    sealer: &Sealer,
    person: Uuid,
) -> Result<Vec<Vec<f32>>> {
    let sealed: Vec<String> = face_negatives::table
        .filter(face_negatives::person_id.eq(person))
        .select(face_negatives::descriptor)
        .load(conn)
        .await?;
    sealed.iter().map(|s| open_descriptor(sealer, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_round_trip_sealed() {
        let secrets =
            crate::auth::secrets::Secrets::from_secret("a-test-secret-of-enough-length-0123456789");
        let d: Vec<f32> = (0..DESCRIPTOR_LEN).map(|i| i as f32 / 7.0 - 3.0).collect();
        let sealed = seal_descriptor(secrets.sealer(), &d);
        assert!(Sealer::is_sealed(&sealed));
        assert_eq!(open_descriptor(secrets.sealer(), &sealed).unwrap(), d);
    }
}
