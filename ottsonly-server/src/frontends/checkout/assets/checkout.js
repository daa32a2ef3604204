// Opens Razorpay Checkout for the top-up described by the page's data attributes, then posts
// Checkout's result to this page's form. No inline script: the CSP allows only 'self' and
// Razorpay's script.
(function () {
  "use strict";
  var root = document.getElementById("checkout");
  var form = document.getElementById("result");
  var button = document.getElementById("pay");
  var status = document.getElementById("status");
  if (!root || !form || !button) return;
  function say(text) { if (status) status.textContent = text; }
  button.addEventListener("click", function () {
    if (typeof window.Razorpay !== "function") {
      say("The payment window could not be loaded. Check your connection and reload this page.");
      return;
    }
    var d = root.dataset;
    var rzp = new window.Razorpay({
      key: d.key,
      order_id: d.order,
      amount: d.amount,
      currency: d.currency,
      name: d.shop,
      description: d.description,
      prefill: { contact: d.contact, name: d.name || "" },
      handler: function (r) {
        form.elements.razorpay_payment_id.value = r.razorpay_payment_id;
        form.elements.razorpay_order_id.value = r.razorpay_order_id;
        form.elements.razorpay_signature.value = r.razorpay_signature;
        say("Confirming your payment…");
        form.submit();
      },
      modal: { ondismiss: function () { say("Payment not completed. You can try again."); } }
    });
    rzp.on("payment.failed", function () { say("The payment failed. You can try again."); });
    rzp.open();
  });
})();
