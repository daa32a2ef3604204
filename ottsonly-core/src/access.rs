//! Who is acting, and the seed's role matrix as one table.

use crate::error::Error;
use crate::ids::UserId;
use crate::model::{Recipient, Role, Timestamp, User};

/// An authenticated caller, as loaded from the store (role and status are current, not taken
/// from the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// The id recorded as actor for operator actions from the command line.
pub const SYSTEM_ACTOR_ID: &str = "system";

impl Actor {
    /// The operator at the command line: an admin that is no user.
    pub fn system(now: Timestamp) -> Self {
        Actor { user_id: UserId::from_string(SYSTEM_ACTOR_ID), role: Role::Admin, joined_at: now }
    }

    /// A user as the caller, with the role and join date of the record given.
    pub fn of(user: &User) -> Self {
        Actor { user_id: user.id.clone(), role: user.role, joined_at: user.created_at }
    }

    /// Fails with [`Error::Forbidden`] unless the role may do `action`.
    pub fn require(&self, action: Action) -> Result<(), Error> {
        if action.allowed(self.role) { Ok(()) } else { Err(Error::Forbidden) }
    }

    pub fn recipient(&self) -> Recipient {
        Recipient { user_id: self.user_id.clone(), role: self.role, joined_at: self.joined_at }
    }
}

/// A row of the access matrix (ARCHITECTURE.md, "Role-Based Access Matrix").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    MyProfile,
    CreateOrder,
    MyOrders,
    MySubscriptions,
    Wallet,
    Notifications,
    ViewAllUsers,
    ViewAllOrders,
    ViewAllSubscriptions,
    ManageUsers,
    ManageProducts,
    RefundOrders,
    AssignCredentials,
    WalletAdmin,
    BulkNotify,
    /// Reading the audit log of admin actions. Not a row of the seed's table, which audits every
    /// admin action but lets only admins administer: admin only, like the actions it records.
    ViewAuditLog,
    /// Reading the admin alert outbox and sending a parked alert again. Not in the seed's table
    /// either: the alerts are the admins' own channel, so admin only.
    ManageAlerts,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::MyProfile,
        Action::CreateOrder,
        Action::MyOrders,
        Action::MySubscriptions,
        Action::Wallet,
        Action::Notifications,
        Action::ViewAllUsers,
        Action::ViewAllOrders,
        Action::ViewAllSubscriptions,
        Action::ManageUsers,
        Action::ManageProducts,
        Action::RefundOrders,
        Action::AssignCredentials,
        Action::WalletAdmin,
        Action::BulkNotify,
        Action::ViewAuditLog,
        Action::ManageAlerts,
    ];

    pub fn allowed(self, role: Role) -> bool {
        use Action::*;
        match self {
            MyProfile | Notifications => true,
            CreateOrder | MyOrders | MySubscriptions | Wallet => matches!(role, Role::User | Role::Admin),
            ViewAllUsers | ViewAllOrders | ViewAllSubscriptions => role.is_staff(),
            ManageUsers | ManageProducts | RefundOrders | AssignCredentials | WalletAdmin | BulkNotify
            | ViewAuditLog | ManageAlerts => role == Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_matches_the_seed() {
        // (action, user, support, admin) straight from the seed's table.
        let table = [
            (Action::MyProfile, true, true, true),
            (Action::CreateOrder, true, false, true),
            (Action::MyOrders, true, false, true),
            (Action::MySubscriptions, true, false, true),
            (Action::Wallet, true, false, true),
            (Action::Notifications, true, true, true),
            (Action::ViewAllUsers, false, true, true),
            (Action::ViewAllOrders, false, true, true),
            (Action::ViewAllSubscriptions, false, true, true),
            (Action::ManageUsers, false, false, true),
            (Action::ManageProducts, false, false, true),
            (Action::RefundOrders, false, false, true),
            (Action::AssignCredentials, false, false, true),
            (Action::WalletAdmin, false, false, true),
            (Action::BulkNotify, false, false, true),
            // Not in the seed's table: admin only (see `Action::ViewAuditLog`).
            (Action::ViewAuditLog, false, false, true),
            (Action::ManageAlerts, false, false, true),
        ];
        assert_eq!(table.len(), Action::ALL.len());
        for (a, u, s, ad) in table {
            assert_eq!(a.allowed(Role::User), u, "{a:?} user");
            assert_eq!(a.allowed(Role::Support), s, "{a:?} support");
            assert_eq!(a.allowed(Role::Admin), ad, "{a:?} admin");
        }
    }
}
