"""`/admin/*` (SPEC §12): the operators' pages — users, listings, events, orders, the
domain-event feed and the audit log — with a nav between them (and "Payouts", the money
work's page). Every action goes through a confirmation dialog that asks why; the state
(state/admin.py) re-checks the role on the server for every event."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.admin_dialogs import confirm_dialog, edit_dialog
from ticketing_app.components.layout import page
from ticketing_app.state.admin import AdminState
from ticketing_app.state.nav import NavState

NAV = (
    ("Users", "/admin/users"),
    ("Listings", "/admin/listings"),
    ("Events", "/admin/events"),
    ("Orders", "/admin/orders"),
    ("Domain events", "/admin/feed"),
    ("Audit log", "/admin/audit"),
    ("Payouts", "/admin/payouts"),  # the payout queue (the money work's page)
)
PLACEHOLDERS = {
    "users": "Email contains…",
    "listings": "Title or seller's email…",
    "events": "Name, venue or city…",
    "orders": "Order id, buyer's email or title…",
    "feed": "Event type, e.g. OrderCompleted",
}


def _admin_nav() -> rx.Component:
    return rx.el.nav(
        rx.hstack(
            *[rx.link(text, href=href, size="2", weight="medium") for text, href in NAV],
            spacing="4",
            wrap="wrap",
        ),
        aria_label="Admin",
        margin_bottom="1rem",
        data_testid="admin-nav",
    )


def _search(section: str) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="q",
                placeholder=PLACEHOLDERS[section],
                aria_label="Search",
                width="320px",
                key=AdminState.section,
            ),
            rx.button("Search", type="submit", variant="soft"),
            spacing="2",
        ),
        on_submit=AdminState.search,
        margin_bottom="1rem",
    )


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            AdminState.notice != "",
            rx.callout(AdminState.notice, icon="check", role="status", margin_bottom="1rem"),
        ),
        rx.cond(
            AdminState.error != "",
            rx.callout(
                AdminState.error,
                icon="triangle_alert",
                color_scheme="red",
                role="alert",
                margin_bottom="1rem",
            ),
        ),
    )


def _action(label: str, action: str, item: rx.Var, target: str, name: rx.Var) -> rx.Component:
    return rx.button(
        label,
        size="1",
        variant="soft",
        color_scheme="red" if action != "reinstate" else "gray",
        on_click=AdminState.ask(action, item[target].to(str), name),
    )


CELL = {"padding": "0.45rem 0.6rem", "borderBottom": "1px solid var(--gray-a5)",
        "textAlign": "left", "verticalAlign": "top"}  # fmt: skip


def _table(headers: list[str], row: object, label: str) -> rx.Component:
    """A plain table in a scrollable region that keyboards can reach (tabindex 0, named)."""
    return rx.box(
        rx.el.table(
            rx.el.thead(rx.el.tr(*[rx.el.th(h, style=CELL, scope="col") for h in headers])),
            rx.el.tbody(rx.foreach(AdminState.rows, row)),
            width="100%",
            style={"borderCollapse": "collapse", "fontSize": "14px"},
        ),
        overflow_x="auto",
        tab_index=0,
        role="region",
        aria_label=label,
        background="var(--color-panel-solid)",
        border_radius="8px",
        border="1px solid var(--gray-a5)",
    )


def _cell(value: rx.Var | rx.Component) -> rx.Component:
    return rx.el.td(value, style=CELL)


def _users_row(u: rx.Var) -> rx.Component:
    email = u["email"].to(str)
    return rx.el.tr(
        _cell(email),
        _cell(rx.cond(u["isOperator"].to(bool), "operator", "")),
        _cell(rx.cond(u["suspended"].to(bool), "suspended " + u["suspendedAtText"].to(str), "")),
        _cell(
            rx.cond(
                u["suspended"].to(bool),
                _action("Reinstate", "reinstate", u, "id", email),
                _action("Suspend", "suspend", u, "id", email),
            )
        ),
        data_testid="admin-user-row",
    )


def _listings_row(t: rx.Var) -> rx.Component:
    title = t["title"].to(str)
    return rx.el.tr(
        _cell(title),
        _cell(t["eventName"].to(str)),
        _cell(t["sellerEmail"].to(str)),
        _cell(t["price"].to(str)),
        _cell(t["status"].to(str)),
        _cell(t["withdrawnReason"].to(str)),
        _cell(
            rx.cond(
                (t["status"].to(str) == "available") | (t["status"].to(str) == "reserved"),
                _action("Withdraw", "withdraw", t, "id", title),
            )
        ),
        data_testid="admin-listing-row",
    )


def _events_row(e: rx.Var) -> rx.Component:
    name = e["name"].to(str)
    return rx.el.tr(
        _cell(name),
        _cell(e["venue"].to(str) + ", " + e["city"].to(str)),
        _cell(e["startsAtText"].to(str)),
        _cell(e["status"].to(str)),
        _cell(
            rx.cond(
                e["status"].to(str) == "scheduled",
                rx.hstack(
                    rx.button(
                        "Edit",
                        size="1",
                        variant="soft",
                        on_click=AdminState.start_edit(e["id"].to(str)),
                    ),
                    _action("Cancel event", "cancel_event", e, "id", name),
                    spacing="2",
                ),
            )
        ),
        data_testid="admin-event-row",
    )


def _orders_row(o: rx.Var) -> rx.Component:
    return rx.el.tr(
        _cell(o["id"].to(str)),
        _cell(o["ticketTitle"].to(str)),
        _cell(o["buyerEmail"].to(str)),
        _cell(o["price"].to(str)),
        _cell(o["status"].to(str)),
        _cell(o["chargeText"].to(str)),
        _cell(
            rx.cond(
                o["refundable"].to(bool),
                _action("Refund", "refund", o, "id", o["ticketTitle"].to(str)),
            )
        ),
        data_testid="admin-order-row",
    )


def _feed_row(d: rx.Var) -> rx.Component:
    return rx.el.tr(
        _cell(d["seq"].to(str)),
        _cell(d["createdAtText"].to(str)),
        _cell(d["type"].to(str)),
        _cell(d["aggregateType"].to(str) + " " + d["aggregateId"].to(str)),
        _cell(rx.code(d["json"].to(str), size="1", white_space="pre-wrap")),
        data_testid="admin-feed-row",
    )


def _audit_row(a: rx.Var) -> rx.Component:
    return rx.el.tr(
        _cell(a["createdAtText"].to(str)),
        _cell(a["operatorEmail"].to(str)),
        _cell(a["action"].to(str)),
        _cell(a["targetType"].to(str) + " " + a["targetId"].to(str)),
        _cell(a["reason"].to(str)),
        _cell(rx.code(a["json"].to(str), size="1", white_space="pre-wrap")),
        data_testid="admin-audit-row",
    )


TABLES = {
    "users": (["Email", "Role", "Status", "Actions"], _users_row),
    "listings": (["Title", "Event", "Seller", "Price", "Status", "Withdrawn because", "Actions"],
                 _listings_row),
    "events": (["Event", "Where", "Starts (UTC)", "Status", "Actions"], _events_row),
    "orders": (["Order", "Ticket", "Buyer", "Price", "Status", "Payment", "Actions"], _orders_row),
    "feed": (["#", "When (UTC)", "Type", "Aggregate", "Payload"], _feed_row),
    "audit": (["When (UTC)", "Operator", "Action", "Target", "Reason", "Details"], _audit_row),
}  # fmt: skip
TITLES = {
    "users": "Admin · Users",
    "listings": "Admin · Listings",
    "events": "Admin · Events",
    "orders": "Admin · Orders",
    "feed": "Admin · Domain events",
    "audit": "Admin · Audit log",
}


def _section_page(section: str) -> rx.Component:
    headers, row = TABLES[section]
    return page(
        _admin_nav(),
        _messages(),
        _search(section) if section in PLACEHOLDERS else rx.fragment(),
        rx.cond(
            NavState.is_operator,
            _table(headers, row, TITLES[section].split(" · ")[1]),
        ),
        confirm_dialog(),
        edit_dialog(),
        title=TITLES[section].split(" · ")[1],
    )


def add_pages(app: rx.App) -> None:
    for section in TABLES:
        app.add_page(
            lambda section=section: _section_page(section),
            route=f"/admin/{section}",
            title=f"{TITLES[section]} · Ticketing",
            on_load=[NavState.load, AdminState.load],
        )
    app.add_page(
        lambda: _section_page("users"),
        route="/admin",
        title="Admin · Ticketing",
        on_load=[NavState.load, AdminState.load],
    )
