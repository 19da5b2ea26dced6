"""The Reflex app: pages, the REST API and the backend's lifespan tasks."""

import gc

import reflex as rx

from ticketing_app import jobs
from ticketing_app.api import build_api, reflex_under
from ticketing_app.components import connection
from ticketing_app.pages import account as account_pages
from ticketing_app.pages import admin as admin_pages
from ticketing_app.pages import admin_payouts as admin_payouts_pages
from ticketing_app.pages import auth as auth_pages
from ticketing_app.pages import events as events_pages
from ticketing_app.pages import listings as listings_pages
from ticketing_app.pages import market as market_pages
from ticketing_app.pages import not_found as not_found_pages
from ticketing_app.pages import orders as orders_pages
from ticketing_app.pages import payouts as payouts_pages
from ticketing_app.pages import tickets as tickets_pages
from ticketing_app.pages import verify as verify_pages
from ticketing_app.services.payments import install_payment_upkeep
from ticketing_app.state import tree
from ticketing_app.state.event_args import refuse_forged_event
from ticketing_app.state.market import LoadInTheEvent
from ticketing_app.state.snapshot import FirstSnapshot

# Python's cyclic GC: a young collection per 50,000 new container objects, not 700. Every
# connecting tab built a tree of ~25 Reflex states (8 on `/` now, state/tree.py); with the
# default, collections ran every few connects and their full passes over the growing heap were
# ~15 % of a connect's backend CPU (docs/decisions.md 98, docs/performance.md). The blank app
# of bench_clients does the same.
gc.set_threshold(50_000, 20, 20)

# The theme is configured on rx.plugins.RadixThemesPlugin in rxconfig.py.
# Forged events with arguments our pages never send: one log line, no traceback.
app = rx.App(
    api_transformer=reflex_under(build_api()),
    backend_exception_handler=refuse_forged_event,
    stylesheets=["/ticketing.css"],
    html_lang="en",
    # Plain toasts: sonner's "rich" green/red text on tinted backgrounds is below 4.5:1.
    toaster=rx.toast.provider(rich_colors=False, close_button=True),
)
tree.install(app)  # without Redis, a tab's tree holds the page states it used, not all 20
app.add_middleware(FirstSnapshot())  # a new tab's snapshot leaves out untouched page states
app.add_middleware(LoadInTheEvent())  # `/`'s load inside the boot/navigation event
connection.install(app)  # a plain "Reconnecting…" bar, not Reflex's developer toast
jobs.register(app)  # event bus, live pushes, leased expiry scheduler (docs/live.md)
install_payment_upkeep()  # cancel ended orders' PaymentIntents, retry refunds (docs/payments.md)
for _pages in (
    market_pages,
    auth_pages,
    tickets_pages,
    orders_pages,
    listings_pages,
    events_pages,
    verify_pages,
    account_pages,
    admin_pages,
    payouts_pages,  # SPEC §12: /payouts
    admin_payouts_pages,  # SPEC §12: /admin/payouts (the admin console links it)
    not_found_pages,
):
    _pages.add_pages(app)
