//! The WebSockets this instance serves itself (locally, or wherever the gateway runs as
//! a server rather than behind API Gateway): at most [`MAX_PER_USER`] open per user,
//! and all of a user's closed when they log out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Open sockets one user may hold on one instance (a few tabs and devices).
pub const MAX_PER_USER: usize = 5;

#[derive(Default)]
pub struct LocalSockets {
    users: Arc<Mutex<HashMap<String, UserSockets>>>,
}

struct UserSockets {
    open: usize,
    /// Bumped to close every socket of the user.
    logout: watch::Sender<u64>,
}

/// One open socket: it counts against the user's cap until dropped.
pub struct Lease {
    users: Arc<Mutex<HashMap<String, UserSockets>>>,
    user_id: String,
    logout: watch::Receiver<u64>,
}

impl Lease {
    /// Resolves when the user logs out.
    pub async fn logged_out(&mut self) {
        // An error means the registry is gone, which never happens while a lease lives.
        let _ = self.logout.changed().await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(user) = users.get_mut(&self.user_id) {
            user.open -= 1;
            if user.open == 0 {
                users.remove(&self.user_id);
            }
        }
    }
}

impl LocalSockets {
    /// A lease for one more socket of `user_id`, or `None` at the cap.
    pub fn open(&self, user_id: &str) -> Option<Lease> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let user = users
            .entry(user_id.to_owned())
            .or_insert_with(|| UserSockets {
                open: 0,
                logout: watch::channel(0).0,
            });
        if user.open >= MAX_PER_USER {
            return None;
        }
        user.open += 1;
        Some(Lease {
            users: self.users.clone(),
            user_id: user_id.to_owned(),
            logout: user.logout.subscribe(),
        })
    }

    /// Closes every open socket of `user_id`.
    pub fn close_all(&self, user_id: &str) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(user) = users.get(user_id) {
            user.logout.send_modify(|generation| *generation += 1);
        }
    }

    pub fn open_count(&self, user_id: &str) -> usize {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(user_id).map_or(0, |user| user.open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_cap_and_a_closed_socket_frees_its_place() {
        let sockets = LocalSockets::default();
        let leases: Vec<Lease> = (0..MAX_PER_USER)
            .map(|_| sockets.open("u").expect("under the cap"))
            .collect();
        assert!(sockets.open("u").is_none());
        assert!(sockets.open("v").is_some(), "another user is not affected");
        drop(leases);
        assert_eq!(sockets.open_count("u"), 0);
        assert!(sockets.open("u").is_some());
    }

    #[tokio::test]
    async fn logout_reaches_every_socket_of_the_user() {
        let sockets = LocalSockets::default();
        let mut first = sockets.open("u").expect("lease");
        let mut second = sockets.open("u").expect("lease");
        sockets.close_all("u");
        first.logged_out().await;
        second.logged_out().await;
    }
}
