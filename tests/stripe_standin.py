"""A local HTTP stand-in of the Stripe API: only the endpoints the platform calls, with Stripe's
documented object shapes, so the real `stripe` library (pointed here by `STRIPE_API_BASE`) is used
unchanged. A few `/_standin/...` routes play what happens on Stripe's side (a customer paying on the
Checkout page, a card declined, a refund from the Dashboard) and return the events Stripe would send;
`signed(...)` signs an event body with Stripe's documented scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_standin"
WEBHOOK_SECRET = "whsec_standin"
PERIOD_SECONDS = 30 * 24 * 3600

Obj = dict[str, Any]


def parse_form(body: str) -> Obj:
    """Stripe's form encoding (`a[b][0][c]=v`) into nested dicts and lists."""
    root: Obj = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append({})
                if last:
                    node[index] = value
                else:
                    if not isinstance(node[index], (dict, list)) or node[index] == {}:
                        node[index] = [] if parts[i + 1].isdigit() else {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if parts[i + 1].isdigit() else {})
    return root


def signed(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    """The `Stripe-Signature` header for `payload`, per Stripe's documented scheme."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"}


class StripeError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


@dataclass
class StripeState:
    """Everything the stand-in holds; guarded by one lock (the server is threaded)."""

    objects: dict[str, Obj] = field(default_factory=dict)
    events: list[Obj] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Set to make the next N API calls answer 500 (a Stripe outage).
    failures_left: int = 0
    # Set to decline the customer's card: invoices paid at once (prorations) stay open.
    decline_payments: bool = False
    # Responses of POSTs by their Idempotency-Key: a repeated key gets the first answer again.
    idempotent: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):06d}{secrets.token_hex(4)}"

    def get(self, object_id: str, kind: str) -> Obj:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(404, f"No such {kind}: '{object_id}'", "id")
        return obj

    def event(self, kind: str, obj: Obj) -> Obj:
        """Record the event Stripe would send; its data is a snapshot of the object now."""
        event = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }
        self.events.append(event)
        return event

    # --- the Stripe API ----------------------------------------------------------------------
    def create_customer(self, params: Obj) -> Obj:
        customer = {
            "id": self.new_id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
            "livemode": False,
        }
        self.objects[customer["id"]] = customer
        return customer

    def create_checkout_session(self, params: Obj) -> Obj:
        mode = params.get("mode")
        if mode not in ("subscription", "payment"):
            raise StripeError(400, "Invalid mode", "mode")
        items = params.get("line_items") or []
        if not items:
            raise StripeError(400, "Missing required param: line_items.", "line_items")
        item = items[0]
        quantity = int(item.get("quantity", 1))
        price_data = item.get("price_data", {})
        unit = int(price_data.get("unit_amount", 0))
        session_id = self.new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": params.get("allow_promotion_codes") == "true",
            "amount_total": unit * quantity,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": int(time.time()),
            "currency": price_data.get("currency", "usd"),
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "mode": mode,
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            # Kept for completing the session; not part of Stripe's response shape.
            "_line": {"quantity": quantity, "price_data": price_data},
            "_subscription_data": params.get("subscription_data", {}),
            "_payment_intent_data": params.get("payment_intent_data", {}),
        }
        self.objects[session_id] = session
        return session

    def create_price(self, params: Obj) -> Obj:
        product = params.get("product")
        if not product:
            if not params.get("product_data", {}).get("name"):
                raise StripeError(400, "Missing required param: product.", "product")
            product = self.new_id("prod")
        if "unit_amount" not in params:
            raise StripeError(400, "Missing required param: unit_amount.", "unit_amount")
        price = {
            "id": self.new_id("price"),
            "object": "price",
            "active": True,
            "created": int(time.time()),
            "currency": params.get("currency", "usd"),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "product": product,
            "recurring": params.get("recurring"),
            "type": "recurring" if params.get("recurring") else "one_time",
            "unit_amount": int(params["unit_amount"]),
        }
        price["recurring"] = price["recurring"] and {
            "interval": price["recurring"].get("interval", "month"),
            "interval_count": int(price["recurring"].get("interval_count", 1)),
        }
        self.objects[price["id"]] = price
        return price

    def update_subscription(self, sub_id: str, params: Obj) -> Obj:
        sub = self.get(sub_id, "subscription")
        pending_if_incomplete = params.get("payment_behavior") == "pending_if_incomplete"
        if pending_if_incomplete:
            # Stripe accepts only the parameters a pending update supports.
            unsupported = sorted(set(params) - {"items", "proration_behavior", "payment_behavior", "expand"})
            if unsupported:
                raise StripeError(
                    400,
                    "The following parameters are not supported with payment_behavior=pending_if_incomplete: "
                    + ", ".join(unsupported),
                    unsupported[0],
                )
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        if isinstance(params.get("metadata"), dict):
            # Stripe merges metadata keys; an empty value deletes one.
            for key, value in params["metadata"].items():
                if value == "":
                    sub["metadata"].pop(key, None)
                else:
                    sub["metadata"][key] = value
        items = params.get("items") or []
        if items:
            item = sub["items"]["data"][0]
            if items[0].get("id") not in (None, item["id"]):
                raise StripeError(400, f"No such subscription item: '{items[0]['id']}'", "items[0][id]")
            old_amount = item["price"]["unit_amount"] * item["quantity"]
            before = {"price": item["price"], "quantity": item["quantity"]}
            if items[0].get("price"):
                item["price"] = self._public(self.get(items[0]["price"], "price"))
            new_quantity = int(items[0].get("quantity", item["quantity"]))
            item["quantity"] = new_quantity
            sub["quantity"] = new_quantity
            new_amount = item["price"]["unit_amount"] * new_quantity
            behaviour = params.get("proration_behavior", "create_prorations")
            if behaviour != "none" and new_amount != old_amount:
                remaining = max(0.0, (item["current_period_end"] - time.time()) / PERIOD_SECONDS)
                amount = round((new_amount - old_amount) * remaining)
                if behaviour == "always_invoice" and amount > 0 and self.decline_payments:
                    invoice = self._invoice(sub, amount, "open", "subscription_update")
                    self.event("invoice.payment_failed", invoice)
                    sub["latest_invoice"] = invoice["id"]
                    if pending_if_incomplete:
                        # The change waits for the payment; the subscription keeps what it had.
                        sub["pending_update"] = {
                            "expires_at": int(time.time()) + 23 * 3600,
                            "subscription_items": [
                                {"id": item["id"], "price": item["price"], "quantity": item["quantity"]}
                            ],
                        }
                        item.update(before)
                        sub["quantity"] = item["quantity"]
                    else:
                        sub["status"] = "past_due"
                elif behaviour == "always_invoice" and amount > 0:
                    invoice = self._invoice(sub, amount, "paid", "subscription_update")
                    self.event("invoice.paid", invoice)
                    sub["latest_invoice"] = invoice["id"]
                else:
                    sub.setdefault("_pending_prorations", []).append(amount)
        self.event("customer.subscription.updated", self._public(sub))
        return sub

    def create_invoice_item(self, params: Obj) -> Obj:
        customer = self.get(params.get("customer", ""), "customer")
        if params.get("subscription"):
            self.get(params["subscription"], "subscription")
        if "amount" not in params or "currency" not in params:
            raise StripeError(400, "Missing required param: amount.", "amount")
        period = params.get("period") or {}
        now = int(time.time())
        item = {
            "id": self.new_id("ii"),
            "object": "invoiceitem",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": customer["id"],
            "date": now,
            "description": params.get("description"),
            "discountable": True,
            "invoice": None,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "period": {"start": int(period.get("start", now)), "end": int(period.get("end", now))},
            "proration": False,
            "quantity": 1,
            "subscription": params.get("subscription"),
        }
        self.objects[item["id"]] = item
        return item

    def _invoice(self, sub: Obj, amount: int, status: str, reason: str) -> Obj:
        invoice = {
            "id": self.new_id("in"),
            "object": "invoice",
            "amount_due": amount,
            "amount_paid": amount if status == "paid" else 0,
            "billing_reason": reason,
            "created": int(time.time()),
            "currency": sub["items"]["data"][0]["price"]["currency"],
            "customer": sub["customer"],
            "hosted_invoice_url": "https://invoice.stripe.test/i/placeholder",
            "invoice_pdf": "https://invoice.stripe.test/i/placeholder/pdf",
            "livemode": False,
            "metadata": {},
            "number": f"STANDIN-{next(self.ids):04d}",
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            },
            "period_end": sub["items"]["data"][0]["current_period_end"],
            "period_start": sub["items"]["data"][0]["current_period_start"],
            "status": status,
        }
        invoice["hosted_invoice_url"] = f"https://invoice.stripe.test/i/{invoice['id']}"
        invoice["invoice_pdf"] = f"https://invoice.stripe.test/i/{invoice['id']}/pdf"
        self.objects[invoice["id"]] = invoice
        return invoice

    def list_invoices(self, query: Obj) -> Obj:
        customer = query.get("customer")
        limit = int(query.get("limit", 10))
        data = [o for o in self.objects.values() if o["object"] == "invoice" and o["customer"] == customer]
        data.sort(key=lambda o: o["created"], reverse=True)
        return {"object": "list", "data": data[:limit], "has_more": len(data) > limit, "url": "/v1/invoices"}

    def create_portal_session(self, params: Obj) -> Obj:
        self.get(params.get("customer", ""), "customer")
        session = {
            "id": self.new_id("bps"),
            "object": "billing_portal.session",
            "created": int(time.time()),
            "customer": params["customer"],
            "livemode": False,
            "return_url": params.get("return_url"),
        }
        session["url"] = f"https://billing.stripe.test/p/session/{session['id']}"
        self.objects[session["id"]] = session
        return session

    def create_refund(self, params: Obj) -> Obj:
        intent = self.get(params.get("payment_intent", ""), "payment_intent")
        amount = int(params["amount"]) if params.get("amount") else None
        return self.refund(intent["id"], amount, params.get("metadata", {}))["refund"]

    # --- what happens on Stripe's side ---------------------------------------------------------
    def complete_checkout(self, session_id: str, promotion_off_cents: int = 0) -> Obj:
        session = self.get(session_id, "checkout.session")
        if session["status"] == "complete":
            return session
        line = session["_line"]
        price_data = line["price_data"]
        customer = session["customer"] or self.create_customer({"email": session["customer_email"]})["id"]
        session["customer"] = customer
        now = int(time.time())
        if session["mode"] == "subscription":
            sub_id = self.new_id("sub")
            price = {
                "id": self.new_id("price"),
                "object": "price",
                "currency": price_data.get("currency", "usd"),
                "product": self.new_id("prod"),
                "recurring": price_data.get("recurring", {"interval": "month"}),
                "unit_amount": int(price_data.get("unit_amount", 0)),
            }
            sub = {
                "id": sub_id,
                "object": "subscription",
                "cancel_at_period_end": False,
                "canceled_at": None,
                "created": now,
                "customer": customer,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": self.new_id("si"),
                            "object": "subscription_item",
                            "current_period_end": now + PERIOD_SECONDS,
                            "current_period_start": now,
                            "price": price,
                            "quantity": line["quantity"],
                            "subscription": sub_id,
                        }
                    ],
                },
                "latest_invoice": None,
                "livemode": False,
                "metadata": dict(session["_subscription_data"].get("metadata", {})),
                "pending_update": None,
                "quantity": line["quantity"],
                "status": "active",
            }
            self.objects[sub_id] = sub
            invoice = self._invoice(sub, price["unit_amount"] * line["quantity"], "paid", "subscription_create")
            sub["latest_invoice"] = invoice["id"]
            session["subscription"] = sub_id
            self.event("customer.subscription.created", self._public(sub))
            self.event("invoice.paid", invoice)
        else:
            amount = max(0, session["amount_total"] - promotion_off_cents)
            charge_id = self.new_id("ch")
            intent = {
                "id": self.new_id("pi"),
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "created": now,
                "currency": session["currency"],
                "customer": customer,
                "latest_charge": charge_id,
                "livemode": False,
                "metadata": dict(session["_payment_intent_data"].get("metadata", {})),
                "status": "succeeded",
            }
            charge = {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "amount_refunded": 0,
                "created": now,
                "currency": session["currency"],
                "customer": customer,
                "livemode": False,
                "metadata": {},
                "paid": True,
                "payment_intent": intent["id"],
                "receipt_url": f"https://pay.stripe.test/receipts/{charge_id}",
                "refunded": False,
                "status": "succeeded",
            }
            self.objects[intent["id"]] = intent
            self.objects[charge_id] = charge
            session["payment_intent"] = intent["id"]
            session["amount_total"] = amount
        session["status"] = "complete"
        session["payment_status"] = "paid"
        self.event("checkout.session.completed", self._public(session))
        return session

    def payment_failed(self, sub_id: str) -> Obj:
        sub = self.get(sub_id, "subscription")
        sub["status"] = "past_due"
        item = sub["items"]["data"][0]
        invoice = self._invoice(sub, item["price"]["unit_amount"] * item["quantity"], "open", "subscription_cycle")
        sub["latest_invoice"] = invoice["id"]
        self.event("invoice.payment_failed", invoice)
        self.event("customer.subscription.updated", self._public(sub))
        return sub

    def payment_succeeded(self, sub_id: str) -> Obj:
        sub = self.get(sub_id, "subscription")
        for invoice in self.objects.values():
            if (
                invoice["object"] == "invoice"
                and invoice["parent"]["subscription_details"]["subscription"] == sub_id
                and invoice["status"] == "open"
            ):
                invoice["status"] = "paid"
                invoice["amount_paid"] = invoice["amount_due"]
                self.event("invoice.paid", invoice)
        if sub.get("pending_update"):
            # The invoice behind a pending update is paid: Stripe applies the update now.
            update = sub["pending_update"]["subscription_items"][0]
            item = sub["items"]["data"][0]
            item["price"], item["quantity"] = update["price"], update["quantity"]
            sub["quantity"] = update["quantity"]
            sub["pending_update"] = None
        sub["status"] = "active"
        self.event("customer.subscription.updated", self._public(sub))
        return sub

    def cancel_now(self, sub_id: str) -> Obj:
        sub = self.get(sub_id, "subscription")
        sub["status"] = "canceled"
        sub["canceled_at"] = int(time.time())
        self.event("customer.subscription.deleted", self._public(sub))
        return sub

    def refund(self, intent_id: str, amount: int | None = None, metadata: Obj | None = None) -> Obj:
        """Refund all that is left of the charge, or `amount` of it (a partial refund)."""
        intent = self.get(intent_id, "payment_intent")
        charge = self.get(intent["latest_charge"], "charge")
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                "amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        refund = {
            "id": self.new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "metadata": metadata or {},
            "payment_intent": intent_id,
            "status": "succeeded",
        }
        self.objects[refund["id"]] = refund
        self.event("refund.created", refund)
        self.event("charge.refunded", charge)
        return {"refund": refund, "charge": charge}

    def renew(self, sub_id: str) -> Obj:
        """The period ends: the next one starts and its invoice takes the pending invoice items."""
        sub = self.get(sub_id, "subscription")
        item = sub["items"]["data"][0]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = item["current_period_start"] + PERIOD_SECONDS
        pending = [
            o
            for o in self.objects.values()
            if o["object"] == "invoiceitem" and o["subscription"] == sub_id and o["invoice"] is None
        ]
        amount = item["price"]["unit_amount"] * item["quantity"] + sum(o["amount"] for o in pending)
        amount += sum(sub.pop("_pending_prorations", []))
        invoice = self._invoice(sub, max(0, amount), "paid", "subscription_cycle")
        invoice["lines"] = {
            "object": "list",
            "data": [{"amount": o["amount"], "invoice_item": o["id"]} for o in pending],
        }
        for o in pending:
            o["invoice"] = invoice["id"]
        sub["latest_invoice"] = invoice["id"]
        self.event("invoice.paid", invoice)
        self.event("customer.subscription.updated", self._public(sub))
        return sub

    @staticmethod
    def _public(obj: Obj) -> Obj:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def expand(self, obj: Obj, expand: list[str]) -> Obj:
        out = self._public(obj)
        for path in expand:
            if path in out and isinstance(out[path], str) and out[path] in self.objects:
                out[path] = self._public(self.objects[out[path]])
        return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive, as Stripe's API does: a client's connection serves its next requests too (every
    # answer carries its content-length), instead of a TCP connection and a thread per request.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = parse_form(body if method == "POST" else url.query)
        try:
            if not url.path.startswith("/_standin/"):
                if self.headers.get("authorization") != f"Bearer {API_KEY}":
                    raise StripeError(401, "Invalid API Key provided")
                with state.lock:
                    if state.failures_left > 0:
                        state.failures_left -= 1
                        raise StripeError(500, "An unknown error occurred")
            key = self.headers.get("idempotency-key") if method == "POST" else None
            with state.lock:
                state.requests.append((method, url.path))
                if key and f"{url.path}:{key}" in state.idempotent:
                    status, result = state.idempotent[f"{url.path}:{key}"]
                else:
                    status, result = 200, self._route(state, method, url.path, params)
                    if key:
                        state.idempotent[f"{url.path}:{key}"] = (status, result)
        except StripeError as exc:
            kind = "api_error" if exc.status >= 500 else "invalid_request_error"
            status, result = exc.status, {"error": {"type": kind, "message": exc.message, "param": exc.param}}
        payload = json.dumps(result).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", f"req_{secrets.token_hex(6)}")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self, state: StripeState, method: str, path: str, params: Obj) -> Any:
        expand = list(params.get("expand", []) or [])
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/v1/customers", lambda: state.create_customer(params)),
            ("GET", r"/v1/customers/(?P<id>[^/]+)", lambda id: state.expand(state.get(id, "customer"), expand)),
            ("POST", r"/v1/checkout/sessions", lambda: state._public(state.create_checkout_session(params))),
            (
                "GET",
                r"/v1/checkout/sessions/(?P<id>[^/]+)",
                lambda id: state.expand(state.get(id, "checkout.session"), expand),
            ),
            ("GET", r"/v1/subscriptions/(?P<id>[^/]+)", lambda id: state.expand(state.get(id, "subscription"), expand)),
            (
                "POST",
                r"/v1/subscriptions/(?P<id>[^/]+)",
                lambda id: state._public(state.update_subscription(id, params)),
            ),
            ("POST", r"/v1/billing_portal/sessions", lambda: state.create_portal_session(params)),
            ("GET", r"/v1/invoices", lambda: state.list_invoices(params)),
            (
                "GET",
                r"/v1/payment_intents/(?P<id>[^/]+)",
                lambda id: state.expand(state.get(id, "payment_intent"), expand),
            ),
            ("POST", r"/v1/refunds", lambda: state.create_refund(params)),
            ("POST", r"/v1/prices", lambda: state.create_price(params)),
            ("POST", r"/v1/invoiceitems", lambda: state.create_invoice_item(params)),
            ("GET", r"/v1/events", lambda: {"object": "list", "data": state.events, "has_more": False}),
            (
                "POST",
                r"/_standin/checkout/sessions/(?P<id>[^/]+)/complete",
                lambda id: state.complete_checkout(id, int(params.get("discount_cents", 0) or 0)),
            ),
            ("POST", r"/_standin/subscriptions/(?P<id>[^/]+)/payment_failed", lambda id: state.payment_failed(id)),
            (
                "POST",
                r"/_standin/subscriptions/(?P<id>[^/]+)/payment_succeeded",
                lambda id: state.payment_succeeded(id),
            ),
            ("POST", r"/_standin/subscriptions/(?P<id>[^/]+)/cancel", lambda id: state.cancel_now(id)),
            (
                "POST",
                r"/_standin/payment_intents/(?P<id>[^/]+)/refund",
                lambda id: state.refund(id, int(params["amount"]) if params.get("amount") else None),
            ),
            ("POST", r"/_standin/subscriptions/(?P<id>[^/]+)/renew", lambda id: state.renew(id)),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(**match.groupdict())
        raise StripeError(404, f"Unrecognized request URL ({method}: {path})")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: StripeState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@dataclass
class StripeStandIn:
    """A running stand-in: its `api_base` for `STRIPE_API_BASE`, and its state to inspect."""

    api_base: str
    state: StripeState

    def take_events(self) -> list[Obj]:
        """The events produced since the last call (what Stripe would now deliver)."""
        with self.state.lock:
            events, self.state.events = self.state.events, []
        return events


@contextmanager
def running_standin() -> Iterator[StripeStandIn]:
    state = StripeState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, name="stripe-standin", daemon=True)
    thread.start()
    try:
        yield StripeStandIn(f"http://127.0.0.1:{server.server_address[1]}", state)
    finally:
        server.shutdown()
        server.server_close()
