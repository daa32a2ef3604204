//! What an admin reads: core's plain-text alert, cut to Telegram's limit.

use ottsonly_core::outbox::AdminAlert;

/// Telegram's limit on the text of one message.
pub const MESSAGE_MAX_CHARS: usize = 4096;

/// An alert as the admins read it: core's plain text, cut to Telegram's limit. Sent without a
/// parse mode, so no part of it is interpreted as markup.
pub fn render(alert: &AdminAlert) -> String {
    let text = alert.text();
    if text.chars().count() <= MESSAGE_MAX_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MESSAGE_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_alerts_are_cut_to_the_telegram_limit() {
        let alert = AdminAlert::LowStock { product_id: "p".into(), product_name: "x".repeat(5000), stock: 1 };
        let text = render(&alert);
        assert_eq!(text.chars().count(), MESSAGE_MAX_CHARS);
        assert!(text.ends_with('…'));
    }
}
