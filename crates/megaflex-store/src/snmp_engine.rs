//! megaflex's SNMP engine identity: the engine ID made the first time and
//! engineBoots, raised at every start (RFC 3414 2.2.2).

use sqlx::SqliteConnection;

use crate::model::StoreError;

/// engineBoots' ceiling (RFC 3414: the engine then needs new keys).
const MAX_BOOTS: i64 = i32::MAX as i64;

/// Runs inside the store's write transaction (`tx`).
pub(crate) async fn next_boots(
    tx: &mut SqliteConnection,
    engine_id: Option<&[u8]>,
    fresh_id: &[u8],
) -> Result<(Vec<u8>, u32), StoreError> {
    let err = |e| StoreError::new("SNMP engine boots", e);
    let engine_id = match engine_id {
        Some(id) => id.to_vec(),
        None => {
            let stored: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT engine_id FROM snmp_engine WHERE is_default = 1 LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
            match stored {
                Some(id) => id,
                None => {
                    let id = fresh_id.to_vec();
                    sqlx::query("INSERT INTO snmp_engine (engine_id, boots, is_default) VALUES (?, 0, 1)")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    id
                }
            }
        }
    };
    let boots: i64 = sqlx::query_scalar(
        "INSERT INTO snmp_engine (engine_id, boots) VALUES (?, 1) \
         ON CONFLICT (engine_id) DO UPDATE SET boots = MIN(boots + 1, ?) RETURNING boots",
    )
    .bind(&engine_id)
    .bind(MAX_BOOTS)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    Ok((engine_id, u32::try_from(boots).unwrap_or(i32::MAX as u32)))
}
