//! API clients: registration, credentials, revocation.

use crate::domain::{now, ClientId, DisplayName, Scopes, UserId};

use super::records::{Actor, Client, ClientRecord};
use super::state::Change;
use super::{Embedded, StoreError};

impl Embedded {
    /// Registers a client for `owner` (an admin).
    pub async fn create_client(
        &self,
        owner: UserId,
        name: DisplayName,
        scopes: Scopes,
        secret_hash: [u8; 32],
    ) -> Result<Client, StoreError> {
        self.write(move |tx| {
            if !tx.state.users.contains_key(&owner) {
                return Err(StoreError::NotFound("user"));
            }
            let record = ClientRecord {
                id: ClientId::new(),
                name,
                scopes,
                secret_hash,
                owner,
                created_at: now(),
            };
            let client = Client::from(&record);
            tx.commit(Change::CreateClient(record));
            Ok(client)
        })
        .await
    }

    /// Every client, oldest first.
    pub async fn clients(&self) -> Vec<Client> {
        let state = self.read();
        let mut clients: Vec<Client> = state
            .clients
            .values()
            .map(|client| Client::from(&**client))
            .collect();
        clients.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.client_id.cmp(&b.client_id))
        });
        clients
    }

    /// A client's secret hash and scopes, to check its credentials.
    pub async fn client_credentials(&self, id: ClientId) -> Option<([u8; 32], Scopes)> {
        self.read()
            .clients
            .get(&id)
            .map(|client| (client.secret_hash, client.scopes.clone()))
    }

    /// The account a live client writes as: one O(1) lookup per request, so revoking a client
    /// stops its tokens at once.
    pub async fn client_actor(&self, id: ClientId) -> Option<Actor> {
        let state = self.read();
        let client = state.clients.get(&id)?;
        state.users.contains_key(&client.owner).then_some(Actor {
            user_id: client.owner,
            admin: false,
        })
    }

    /// Revokes a client.
    pub async fn delete_client(&self, id: ClientId) -> Result<(), StoreError> {
        self.write(move |tx| {
            if !tx.state.clients.contains_key(&id) {
                return Err(StoreError::NotFound("client"));
            }
            tx.commit(Change::DeleteClient { id });
            Ok(())
        })
        .await
    }
}
