// The card form on the order page: loads Stripe.js from `stripeJsUrl`, mounts the Card Element
// and, on "Pay", turns the card into a payment method id IN THE BROWSER (the card number never
// reaches our server) and hands that id to the state (`onPaymentMethod`). The server confirms
// the PaymentIntent and settles from what Stripe says, so nothing the browser reports counts.
//
// Feature detection, so one flow works on real Stripe.js and on localstripe's stand-in:
// `createPaymentMethod({type: "card", card})` → `pm_…` (real Stripe.js); when it returns
// nothing (localstripe's stub) → `createToken(card)` and its `token.card.id` (`card_…`), which a
// PaymentIntent accepts as `payment_method` too.
// 3-D Secure: when the server answers "requires_action" it sets `actionSecret`; the browser runs
// `confirmCardPayment(actionSecret)` and calls `onAuthenticated` so the server re-reads the intent.
// The button stays disabled from the click until the server has answered (`paySeq` changes),
// and says what will be charged ("Pay $42.50": `amount` in `currency`, in the viewer's locale).
import { useEffect, useRef, useState } from "react";
import { Button, Text } from "@radix-ui/themes";
import { formatMoney } from "./money_format.jsx";

const loading = {};
// Real Stripe.js draws its own iframe; localstripe's stand-in adds bare <input>s, which the
// theme's reset leaves borderless, so give those a visible box.
const STAND_IN_CSS = `
.card-element-mount input {
  border: 1px solid var(--gray-a7); border-radius: var(--radius-2);
  padding: 0.3rem 0.45rem; font: inherit; background: var(--color-background);
}
.card-element-mount span { color: var(--gray-11); font-size: 0.8rem; }
`;

function loadStripeJs(url) {
  if (!loading[url]) {
    loading[url] = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.async = true;
      script.onload = () =>
        window.Stripe ? resolve(window.Stripe) : reject(new Error("Stripe.js did not load"));
      script.onerror = () => {
        delete loading[url];
        script.remove();
        reject(new Error("The card form could not be loaded. Reload the page to try again."));
      };
      document.head.appendChild(script);
    });
  }
  return loading[url];
}

function messageOf(error, fallback) {
  if (error && typeof error.message === "string" && error.message) return error.message;
  return fallback;
}

async function paymentMethodId(stripe, card) {
  let result;
  try {
    result = await stripe.createPaymentMethod({ type: "card", card });
  } catch (err) {
    result = undefined; // a stand-in without createPaymentMethod: use the token below
  }
  if (result && result.error) throw new Error(messageOf(result.error, "Check your card details."));
  if (result && result.paymentMethod) return result.paymentMethod.id;
  let token;
  try {
    token = await stripe.createToken(card);
  } catch (err) {
    throw new Error("Enter your card details.");
  }
  if (!token || token.error || !token.token) {
    throw new Error(messageOf(token && token.error, "Check your card details."));
  }
  return token.token.card && token.token.card.id ? token.token.card.id : token.token.id;
}

export function CardForm({
  stripeJsUrl,
  publishableKey,
  paySeq = 0,
  actionSecret = "",
  disabled = false,
  amount,
  currency = "",
  onPaymentMethod,
  onAuthenticated,
  ...rest
}) {
  const amountText = formatMoney(amount, currency);
  const mountRef = useRef(null);
  const stripeRef = useRef(null);
  const cardRef = useRef(null);
  const [ready, setReady] = useState(false);
  const [working, setWorking] = useState(false);
  const [error, setError] = useState("");
  const seqRef = useRef(paySeq);
  const waitingFor = useRef(null);
  const handledSecret = useRef("");
  const handlers = useRef({});
  handlers.current = { onPaymentMethod, onAuthenticated };

  useEffect(() => {
    if (!stripeJsUrl || !publishableKey) return undefined;
    let cancelled = false;
    let card = null;
    loadStripeJs(stripeJsUrl)
      .then((Stripe) => {
        if (cancelled || !mountRef.current) return;
        const stripe = Stripe(publishableKey);
        card = stripe.elements().create("card", { style: { base: { fontSize: "16px" } } });
        card.mount(mountRef.current);
        stripeRef.current = stripe;
        cardRef.current = card;
        setReady(true);
      })
      .catch((err) => !cancelled && setError(messageOf(err, "The card form could not be loaded.")));
    return () => {
      cancelled = true;
      if (card) card.destroy();
      stripeRef.current = null;
      cardRef.current = null;
      setReady(false);
    };
  }, [stripeJsUrl, publishableKey]);

  // The server answered (paid, declined, error...): the button may be used again.
  useEffect(() => {
    seqRef.current = paySeq;
    if (waitingFor.current !== null && paySeq !== waitingFor.current) {
      waitingFor.current = null;
      setWorking(false);
    }
  }, [paySeq]);

  // 3-D Secure asked for by the server: authenticate in the browser, then let the server look.
  useEffect(() => {
    const stripe = stripeRef.current;
    if (!actionSecret || !stripe || handledSecret.current === actionSecret) return;
    handledSecret.current = actionSecret;
    setWorking(true);
    Promise.resolve(stripe.confirmCardPayment(actionSecret))
      .catch(() => undefined)
      .then(() => {
        waitingFor.current = seqRef.current;
        handlers.current.onAuthenticated?.();
      });
  }, [actionSecret, ready]);

  async function pay() {
    if (working || !stripeRef.current || !cardRef.current) return;
    setWorking(true);
    setError("");
    try {
      const id = await paymentMethodId(stripeRef.current, cardRef.current);
      waitingFor.current = seqRef.current;
      handlers.current.onPaymentMethod?.(id);
    } catch (err) {
      setError(messageOf(err, "Check your card details."));
      setWorking(false);
    }
  }

  return (
    <div {...rest}>
      <style>{STAND_IN_CSS}</style>
      <div
        ref={mountRef}
        className="card-element-mount"
        data-testid="card-element"
        style={{
          padding: "0.75rem",
          border: "1px solid var(--gray-a7)",
          borderRadius: "var(--radius-3)",
          background: "var(--color-surface)",
          minHeight: "2.75rem",
          display: "flex",
          flexWrap: "wrap",
          gap: "0.4rem",
          alignItems: "center",
        }}
      />
      {error ? (
        <Text as="p" size="2" color="red" role="alert" style={{ marginTop: "0.5rem" }}>
          {error}
        </Text>
      ) : null}
      <Button
        size="3"
        style={{ width: "100%", marginTop: "0.75rem" }}
        disabled={!ready || working || disabled}
        loading={working}
        onClick={pay}
      >
        {amountText ? `Pay ${amountText}` : "Pay"}
      </Button>
    </div>
  );
}
