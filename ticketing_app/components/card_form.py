"""`card_form(...)`: Stripe's Card Element and the Pay button (assets/card_form.jsx).

The browser turns the card into a payment method id with Stripe.js and passes only that id to
`on_payment_method`; the state confirms and settles on the server.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventHandler, no_args_event_spec, passthrough_event_spec


class CardForm(rx.Component):
    """React component from assets/card_form.jsx."""

    library = "$/public/card_form.jsx"
    tag = "CardForm"

    stripe_js_url: rx.Var[str]
    publishable_key: rx.Var[str]
    # Bumped by the state whenever a payment attempt has been answered: re-enables "Pay".
    pay_seq: rx.Var[int]
    # A client secret whose PaymentIntent needs 3-D Secure in the browser, or "".
    action_secret: rx.Var[str]
    disabled: rx.Var[bool]
    # What will be charged, on the button in the viewer's locale: "Pay $42.50".
    amount: rx.Var[float]
    currency: rx.Var[str]

    on_payment_method: EventHandler[passthrough_event_spec(str)]
    on_authenticated: EventHandler[no_args_event_spec]


def card_form(**props: object) -> rx.Component:
    return CardForm.create(**props)
