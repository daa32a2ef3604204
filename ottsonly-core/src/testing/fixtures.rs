//! A shop to act in over a built [`Ottsonly`], set up through the public API only: the start of
//! the end-to-end flows of the facade test and the benches.

use crate::access::Actor;
use crate::app::Ottsonly;
use crate::auth::Session;
use crate::catalog::NewProduct;
use crate::model::{Product, Role};
use crate::money::Money;
use crate::wallet::{Adjustment, Direction};

/// The phone the operator makes an admin.
pub const ADMIN_PHONE: &str = "+919000000001";

/// A plan to create: Netflix Premium at ₹649.00 for 30 days, active, no stock of its own.
pub fn plan() -> NewProduct {
    NewProduct {
        platform_name: "Netflix".into(),
        plan_name: "Premium".into(),
        description: String::new(),
        price: Money::from_paise(64_900).expect("price"),
        duration_days: 30,
        stock: 0,
        is_active: true,
    }
}

/// A customer logged in, an admin made by the operator, and one product the admin created.
pub struct Shop {
    pub session: Session,
    pub user: Actor,
    pub admin: Actor,
    pub product: Product,
}

impl Shop {
    /// Logs in with `phone` and `code` (a test phone of the app's configuration).
    pub async fn open(app: &Ottsonly, phone: &str, code: &str, product: NewProduct) -> Shop {
        let session = app.auth().verify_otp(phone, code).await.expect("login");
        let user = app.auth().authenticate(&session.access_token).await.expect("authenticate");
        let system = Actor::system(app.now());
        let a = app.users().set_role_by_phone(&system, ADMIN_PHONE, Role::Admin).await.expect("admin");
        let admin = Actor::of(&a);
        let product = app.catalog().create(&admin, product).await.expect("product");
        Shop { session, user, admin, product }
    }

    /// Credits the customer's wallet by an admin adjustment.
    pub async fn fund(&self, app: &Ottsonly, amount: Money, request_id: Option<&str>) {
        let credit = Adjustment {
            user_id: self.user.user_id.clone(),
            amount,
            direction: Direction::Credit,
            reason: "welcome".into(),
            request_id: request_id.map(str::to_string),
        };
        app.wallet().adjust(&self.admin, credit).await.expect("fund");
    }
}
