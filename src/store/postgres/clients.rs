//! API clients in PostgreSQL.

use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{bytes32, get, now, parsed, unavailable, Postgres};
use crate::domain::{ClientId, DisplayName, Scopes, UserId};
use crate::store::records::{Actor, Client};
use crate::store::StoreError;

fn client_from(row: &PgRow) -> Result<Client, StoreError> {
    Ok(Client {
        client_id: ClientId::from(get::<Uuid>(row, "id")?),
        name: parsed("name", &get::<String>(row, "name")?, DisplayName::parse)?,
        scopes: parsed("scopes", &get::<String>(row, "scopes")?, Scopes::parse_list)?,
        owner: UserId::from(get::<Uuid>(row, "owner")?),
        created_at: get(row, "created_at")?,
    })
}

impl Postgres {
    pub async fn create_client(
        &self,
        owner: UserId,
        name: DisplayName,
        scopes: Scopes,
        secret_hash: [u8; 32],
    ) -> Result<Client, StoreError> {
        let row = sqlx::query(
            "INSERT INTO clients (id, name, scopes, secret_hash, owner, created_at)
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM users WHERE id = $5)
             RETURNING id, name, scopes, owner, created_at",
        )
        .bind(ClientId::new().as_uuid())
        .bind(name.as_str())
        .bind(scopes.to_string())
        .bind(secret_hash.to_vec())
        .bind(owner.as_uuid())
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        client_from(&row.ok_or(StoreError::NotFound("user"))?)
    }

    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        sqlx::query(
            "SELECT id, name, scopes, owner, created_at FROM clients ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(client_from)
        .collect()
    }

    pub async fn client_credentials(
        &self,
        id: ClientId,
    ) -> Result<Option<([u8; 32], Scopes)>, StoreError> {
        let row = sqlx::query("SELECT secret_hash, scopes FROM clients WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|row| {
            Ok((
                bytes32(&row, "secret_hash")?,
                parsed(
                    "scopes",
                    &get::<String>(&row, "scopes")?,
                    Scopes::parse_list,
                )?,
            ))
        })
        .transpose()
    }

    pub async fn client_actor(&self, id: ClientId) -> Result<Option<Actor>, StoreError> {
        let owner: Option<Uuid> = sqlx::query_scalar(
            "SELECT c.owner FROM clients c JOIN users u ON u.id = c.owner WHERE c.id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(owner.map(|owner| Actor {
            user_id: UserId::from(owner),
            admin: false,
        }))
    }

    pub async fn delete_client(&self, id: ClientId) -> Result<(), StoreError> {
        let deleted = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound("client"));
        }
        Ok(())
    }
}
