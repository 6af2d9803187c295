"""Helpdesk tools: live delivery troubleshooting, DMARC check, spam filter, maintenance.

The delivery check is streamed. The portal reads Stalwart's event stream itself (the browser
never sees Stalwart's address or the token) and relays each stage as soon as it arrives:

* without JavaScript, `delivery_run` streams a whole HTML page whose step list grows as the
  browser receives it;
* with htmx, the form swaps in a panel that opens `delivery_events`, an event stream of
  server-rendered fragments appended by htmx's SSE extension.

When the browser goes away, the response is cancelled and the upstream stream is closed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET, require_http_methods

from portal import access, responses
from portal.access import require
from portal.markup import kept
from portal.permissions import Target, needs, needs_any
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.sse import encode_event
from portal.stalwart.troubleshoot import DeliveryInterrupted, DeliveryStalled, stall_seconds

from .actions import ACTIONS, GROUPS, MAINTENANCE_ACCESS, Action, action_for
from .blocked import BLOCKED_ACCESS
from .delivery import DeliveryRun, Step
from .explain import read_dmarc, spam_headline
from .forms import ClassifyForm, DeliveryForm, DmarcForm, TrainForm, fit_account_fields
from .steps import step_html
from .tasks import TASKS_ACCESS

log = logging.getLogger("portal.tools")

STREAM_MARKER = "<!--delivery-steps-->"
# Browsers reconnect an event stream after this long; a reconnect never re-runs the check.
SSE_RETRY_MS = 3000
_STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}



# --- delivery troubleshooting ----------------------------------------------------------------
@require_GET
@require(needs("troubleshoot"))
async def delivery(request: PortalRequest) -> HttpResponse:
    """The form; `?target=` pre-fills it (links from other pages)."""
    form = DeliveryForm(initial={"target": request.GET.get("target", "").strip()[:255]})
    return render(request, "tools/delivery.html", {"form": form})


@require_GET
@require(needs("troubleshoot"))
async def delivery_run(request: PortalRequest) -> HttpResponse:
    form = DeliveryForm(request.GET)
    if not form.is_valid():
        template = "tools/delivery.html#tool" if request.htmx else "tools/delivery.html"
        return render(request, template, {"form": form}, status=422)
    target = form.cleaned_data["target"]
    context = {"form": form, "target": target, "started": timezone.now()}
    if request.htmx:
        context["events_url"] = reverse("tools:delivery-events") + "?" + urlencode({"target": target})
        return render(request, "tools/delivery.html#tool", context)
    # Ask for the token first: a refusal or an unreachable Stalwart gets its proper error page.
    token = await request.stalwart.troubleshoot.token()
    page = render_to_string("tools/delivery_run.html", context, request=request)
    head, tail = page.split(STREAM_MARKER, 1)
    run = DeliveryRun(target)
    version = request.portal_user.version
    log.info("%s started a delivery check of %s", request.portal_user.name, target)
    return _stream(_html_page(request, run, token, head, tail, version), "text/html; charset=utf-8")


@require_GET
@require(needs("troubleshoot"))
async def delivery_events(request: PortalRequest) -> HttpResponse:
    form = DeliveryForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(gettext("Give an address or a domain as ?target=."))
    run = DeliveryRun(form.cleaned_data["target"])
    if request.headers.get("Last-Event-ID"):
        # The browser lost the stream and reconnected: never start a second check behind the
        # person's back.
        return _stream(_sse_interrupted(run), "text/event-stream")
    version = request.portal_user.version
    log.info("%s started a delivery check of %s", request.portal_user.name, run.target)
    return _stream(_sse_events(request, run, version), "text/event-stream")


def _stream(content: AsyncIterator[str], content_type: str) -> StreamingHttpResponse:
    return StreamingHttpResponse(content, content_type=content_type, headers=_STREAM_HEADERS)


async def _steps(request: PortalRequest, run: DeliveryRun, token: str | None) -> AsyncIterator[Step]:
    """The steps of the check; failures become a last step. Closing this closes Stalwart's stream."""
    api = request.stalwart.troubleshoot
    try:
        async with aclosing(api.delivery(run.target, token=token)) as stages:
            async for stage in stages:
                yield run.add(stage)
    except DeliveryStalled:
        yield run.interrupt(
            gettext("Stalwart sent nothing for %(seconds)s seconds, so the portal stopped waiting.")
            % {"seconds": f"{stall_seconds():.0f}"}
        )
    except DeliveryInterrupted as exc:
        yield run.interrupt(f"{exc.message}")
    except errors.Forbidden:
        yield run.interrupt(
            gettext("Stalwart refused the check: your account lacks the troubleshoot permission there.")
        )
    except errors.StalwartUnavailable:
        yield run.interrupt(gettext("Stalwart could not be reached."))
    except errors.StalwartError as exc:
        yield run.interrupt(gettext("Stalwart refused the check: %(reason)s") % {"reason": exc.message})


def _step_html(step: Step) -> str:
    return step_html(step)


def _verdict_html(run: DeliveryRun, version: str) -> str:
    when = timezone.localtime()
    context = {"run": run, "verdict": run.verdict(), "summary": run.summary(when=when, version=version)}
    return render_to_string("tools/delivery_parts.html#verdict", context)


def _status_html(run: DeliveryRun, *, finished: bool) -> str:
    if not finished:  # the same words for every check just started: rendered once per language
        return kept(_running_status)(get_language())
    return render_to_string("tools/delivery_parts.html#status", {"run": run, "finished": finished})


@functools.lru_cache(maxsize=16)
def _running_status(language: str | None) -> str:
    return render_to_string("tools/delivery_parts.html#status", {"finished": False})


async def _html_page(
    request: PortalRequest, run: DeliveryRun, token: str, head: str, tail: str, version: str
) -> AsyncIterator[str]:
    yield head
    yield '<ol class="steps">'
    async with aclosing(_steps(request, run, token)) as steps:
        async for step in steps:
            yield _step_html(step)
    yield "</ol>"
    yield _verdict_html(run, version)
    yield tail


async def _sse_events(request: PortalRequest, run: DeliveryRun, version: str) -> AsyncIterator[str]:
    yield encode_event(_status_html(run, finished=False), event="status", retry=SSE_RETRY_MS)
    async with aclosing(_steps(request, run, None)) as steps:
        async for step in steps:
            yield encode_event(_step_html(step), event="step", id=str(step.number))
    yield encode_event(_verdict_html(run, version), event="verdict", id="end")
    yield encode_event(_status_html(run, finished=True), event="status")
    yield encode_event("", event="done")


async def _sse_interrupted(run: DeliveryRun) -> AsyncIterator[str]:
    step = run.interrupt(gettext("The connection to the portal was interrupted. Run the check again."))
    yield encode_event(_step_html(step), event="step", id="end")
    yield encode_event(_status_html(run, finished=True), event="status")
    yield encode_event("", event="done")


# --- DMARC ---------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(needs("troubleshoot"))
async def dmarc(request: PortalRequest) -> HttpResponse:
    if request.method == "GET":
        initial = {"mail_from": request.GET.get("target", "").strip()[:320]}
        return render(request, "tools/dmarc.html", {"form": DmarcForm(initial=initial)})
    form = DmarcForm(request.POST, request.FILES)
    report, status = None, 200
    if form.is_valid():
        data = form.cleaned_data
        message = data["raw"].decode("utf-8", errors="replace") if data["raw"] else None
        try:
            report = await request.stalwart.troubleshoot.dmarc(
                data["remote_ip"], data["ehlo_domain"], data["mail_from"], message
            )
        except errors.OtherError as exc:
            _message_error(form, exc, stop=".")
        except responses.SUBMIT_FAILURES as exc:
            template = "tools/dmarc.html#tool" if request.htmx else "tools/dmarc.html"
            return responses.form_upstream_failure(request, template, {"form": form}, exc, form=form, changes=False)
    if form.errors:
        status = 422
    context = {"form": form, "report": report}
    if report is not None:
        data = form.cleaned_data
        context["reading"] = read_dmarc(report, remote_ip=data["remote_ip"], mail_from=data["mail_from"])
    template = "tools/dmarc.html#tool" if request.htmx else "tools/dmarc.html"
    return render(request, template, context, status=status)


def _message_error(form: forms.Form, exc: errors.OtherError, *, stop: str = "") -> None:
    """Stalwart refused a value: next to the field it names (0.16 names one), else the message."""
    reason = exc.details or exc.message
    if exc.field and exc.field != "message" and exc.field in form.fields:
        form.add_error(exc.field, gettext("Stalwart refused this value: %(reason)s") % {"reason": reason})
        return
    form.add_error("message", gettext("Stalwart could not read this message: %(reason)s") % {"reason": reason} + stop)


# --- spam filter ---------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(needs_any("spam-filter-train", "spam-filter-test"))
async def spam_classify(request: PortalRequest) -> HttpResponse:
    """Test a message against the filter (Stalwart checks spam-filter-train for this up to
    0.14, spam-filter-test from 0.15: `Capabilities.classify_permission`)."""
    needed = needs(request.portal_user.capabilities.classify_permission)
    if not needed.allows(request.portal_user):
        return responses.forbidden(request, request.portal_user, needed)
    capabilities = request.portal_user.capabilities
    null_sender = capabilities.classify_null_sender
    if request.method == "GET":
        form = ClassifyForm(initial={"tls": True, "remote_ip": "", "recipients": ""}, null_sender=null_sender)
        return render(request, "tools/spam_classify.html", {"form": fit_account_fields(form, capabilities)})
    form = fit_account_fields(ClassifyForm(request.POST, request.FILES, null_sender=null_sender), capabilities)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = await request.stalwart.spam_filter.classify(
                data["raw"].decode("utf-8", errors="replace"),
                remote_ip=data["remote_ip"],
                ehlo_domain=data["ehlo_domain"],
                sender=data["sender"],
                recipients=data["recipients"],
                tls=data["tls"],
                authenticated_as=data["authenticated_as"],
            )
        except errors.FieldMissing as exc:  # 0.16+: no test without an envelope sender
            form.add_error(exc.field if exc.field in form.fields else "message", exc.message)
        except errors.OtherError as exc:
            _message_error(form, exc)
        except responses.SUBMIT_FAILURES as exc:
            template = "tools/spam_classify.html#tool" if request.htmx else "tools/spam_classify.html"
            return responses.form_upstream_failure(request, template, {"form": form}, exc, form=form, changes=False)
    status = 422 if form.errors else 200
    context = {"form": form, "result": result}
    if result is not None:
        context["level"], context["headline"] = spam_headline(result)
    template = "tools/spam_classify.html#tool" if request.htmx else "tools/spam_classify.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@require(needs("spam-filter-train"))
async def spam_train(request: PortalRequest) -> HttpResponse:
    capabilities = request.portal_user.capabilities
    if request.method == "POST" and request.POST.get("trainer"):
        return await _spam_trainer(request, request.POST["trainer"])
    if request.method == "GET":
        return render(request, "tools/spam_train.html", await _train_context(request, TrainForm()))
    form = TrainForm(request.POST, request.FILES)
    upload = capabilities.spam_training_route == "upload"
    # 0.16+ without impersonate: every sample is filed under the person's own account.
    own_only = capabilities.spam_samples_impersonate and not request.portal_user.has("impersonate")
    if upload and not own_only and form.is_valid() and request.portal_user.tenant and not form.cleaned_data["account"]:
        # 0.15 trains tenant administrators' samples only for an account of their tenant.
        form.add_error("account", gettext("Name an account of your tenant: its filter learns from this message."))
    if form.is_valid() and _needs_impersonate(request, form.cleaned_data["account"]):
        form.add_error(
            "account",
            gettext(
                "A sample for another account needs the impersonate permission on this server: without it, "
                "Stalwart files the sample under your own account."
            ),
        )
    if form.is_valid() and await access.check_field(request, request.portal_user, form, "account"):
        data = form.cleaned_data
        try:
            await request.stalwart.spam_filter.train(
                data["kind"], data["raw"], data["account"], route=capabilities.spam_training_route
            )
        except errors.ItemNotFound:
            form.add_error("account", gettext("There is no account called %(account)s.") % {"account": data["account"]})
        except errors.OtherError as exc:
            form.add_error(
                "message",
                gettext("Stalwart could not read this message: %(reason)s") % {"reason": exc.details or exc.message},
            )
        except responses.SUBMIT_FAILURES as exc:
            # Nothing in the portal shows a filter's training: no page to check, only the warning.
            return responses.form_upstream_failure(request, "tools/spam_train.html", {"form": form}, exc, form=form)
        else:
            user = request.portal_user
            if own_only and not data["account"]:
                data["account"] = user.name  # where the server filed it
            where = f"the filter of {data['account']}" if data["account"] else "the server-wide filter"
            log.info("%s trained %s with a %s message", user.name, where, data["kind"])
            spam = data["kind"] == "spam"
            if data["account"]:
                text = (
                    gettext("Trained the filter of %(account)s: this message is spam.")
                    if spam
                    else gettext("Trained the filter of %(account)s: this message is not spam.")
                )
            else:
                text = (
                    gettext("Trained the server-wide filter: this message is spam.")
                    if spam
                    else gettext("Trained the server-wide filter: this message is not spam.")
                )
            if upload:  # 0.15 stores a sample; the trainer learns from it at its next run
                text = (
                    gettext("Stored as a spam sample for the filter of %(account)s.")
                    if data["account"] and spam
                    else gettext("Stored as a good-mail sample for the filter of %(account)s.")
                    if data["account"]
                    else gettext("Stored as a server-wide spam sample.")
                    if spam
                    else gettext("Stored as a server-wide good-mail sample.")
                )
                text += " " + gettext("The filter learns from it at the next training run.")
            messages.success(request, text % {"account": data["account"]})
            return HttpResponseRedirect(reverse("tools:spam-train"))
    return render(request, "tools/spam_train.html", await _train_context(request, form), status=422)


def _needs_impersonate(request: PortalRequest, account: str) -> bool:
    """0.16+: naming another account than one's own, without `impersonate` (see the capability)."""
    user = request.portal_user
    return bool(account) and user.capabilities.spam_samples_impersonate and user.needs_impersonate_for(account)


async def _train_context(request: PortalRequest, form: TrainForm, **extra: object) -> dict[str, object]:
    """The training page; on 0.15 with whether the trainer runs (one GET train/status)."""
    capabilities = request.portal_user.capabilities
    context: dict[str, object] = {"form": fit_account_fields(form, capabilities), "trainer": None, **extra}
    context["samples"] = capabilities.spam_training_route == "upload"
    if capabilities.spam_trainer:
        context["trainer"] = {"running": await request.stalwart.spam_filter.trainer("status")}
    elif context["samples"]:
        context["trainer_missing"] = capabilities.why("spam_trainer")
    return context


TRAINER_CONFIRM = ("reset", "delete")


async def _spam_trainer(request: PortalRequest, action: str) -> HttpResponse:
    """Stalwart 0.15's trainer: start, stop, reset or delete the models. Each answer is
    checked: a start or reset while it runs does nothing, and says so."""
    capabilities = request.portal_user.capabilities
    done = HttpResponseRedirect(reverse("tools:spam-train"))
    if not capabilities.spam_trainer:
        messages.warning(request, capabilities.why("spam_trainer"))
        return done
    if action not in ("start", "stop", "reset", "delete"):
        return render(request, "tools/spam_train.html", await _train_context(request, TrainForm()), status=422)
    if action in TRAINER_CONFIRM and request.POST.get("confirmed") != "yes":
        return render(request, "tools/spam_train.html", await _train_context(request, TrainForm(), confirm=action))
    try:
        did = await request.stalwart.spam_filter.trainer(action)
    except responses.SUBMIT_FAILURES as exc:
        context = await _train_context(request, TrainForm())
        return responses.form_upstream_failure(
            request,
            "tools/spam_train.html",
            context,
            exc,
            check_url=reverse("tools:spam-train"),
            check_label=gettext("See whether the trainer runs"),
        )
    log.info("%s: spam trainer %s -> %s", request.portal_user.name, action, did)
    outcomes = {
        ("start", True): (messages.success, gettext("Training started: the filter learns from the stored samples.")),
        ("start", False): (messages.warning, gettext("The trainer is already running: nothing was started.")),
        ("reset", True): (messages.success, gettext("The models were cleared and training started again.")),
        ("reset", False): (messages.warning, gettext("The trainer is running: nothing was reset. Stop it first.")),
        ("stop", True): (messages.success, gettext("Training stopped.")),
        ("stop", False): (messages.info, gettext("The trainer was not running.")),
        ("delete", True): (messages.success, gettext("The spam-filter models were deleted.")),
        ("delete", False): (messages.warning, gettext("Stalwart did not delete the spam-filter models.")),
    }
    say, text = outcomes[(action, did)]
    say(request, text)
    return done


# --- maintenance ---------------------------------------------------------------------------
@require_GET
@require(MAINTENANCE_ACCESS)
async def maintenance(request: PortalRequest) -> HttpResponse:
    user = request.portal_user
    capabilities = user.capabilities
    groups = []
    for group in GROUPS:
        actions = [
            (action, action.make_form(capabilities), action.unavailable(capabilities))
            for action in ACTIONS.values()
            if action.group == group and action.access.allows(user) and action.offered(capabilities)
        ]
        for action, form, _unavailable in actions:
            if form is not None:  # several cards ask for a task or an account: one id each
                form.auto_id = f"id_{action.slug}_%s"
        if actions:
            groups.append((group, actions))
    context = {
        "groups": groups,
        "tasks": capabilities.maintenance_tasks,
        "task_queue": capabilities.maintenance_tasks and TASKS_ACCESS.allows(user),
        "blocked": BLOCKED_ACCESS.allows(user),
    }
    return render(request, "tools/maintenance.html", context)


def _action_rule(action: str, **_: object):
    return action_for(action).access


@require_http_methods(["GET", "POST"])
@require(_action_rule)
async def maintenance_action(request: PortalRequest, action: str) -> HttpResponse:
    """GET: the action's options and, when it destroys something, its confirmation. POST: run
    it (a destructive one only with `confirmed=yes`, sent by the confirmation form)."""
    spec = action_for(action)
    capabilities = request.portal_user.capabilities
    if not spec.offered(capabilities):
        raise Http404("No such maintenance action on this server.")
    missing = spec.unavailable(capabilities)
    if missing:  # this server cannot: say why, call nothing
        messages.warning(request, missing)
        return HttpResponseRedirect(reverse("tools:maintenance"))
    if request.method == "GET":
        return _action_page(request, spec, spec.make_form(capabilities))
    form = spec.make_form(capabilities, request.POST)
    data = form.cleaned_data if form is not None and form.is_valid() else {}
    if form is not None and "account" in form.fields and not form.errors:
        await access.check_field(request, request.portal_user, form, "account")
    if form is not None and form.errors:
        return _action_page(request, spec, form, status=422)
    if spec.confirm_needed(data) and request.POST.get("confirmed") != "yes":
        return _action_page(request, spec, form, confirm=True)
    return await _perform(request, spec, form, data)


def _action_page(
    request: PortalRequest, spec: Action, form, *, confirm: bool = False, status: int = 200
) -> HttpResponse:
    context = {"action": spec, "form": form, "confirm": confirm or spec.destructive}
    return render(request, "tools/maintenance_action.html", context, status=status)


async def _perform(request: PortalRequest, spec: Action, form, data: dict) -> HttpResponse:  # noqa: C901
    api = request.stalwart.maintenance
    user = request.portal_user
    done = reverse("tools:maintenance")
    try:
        match spec.slug:
            case "reload":
                result = await api.reload(data.get("scope", ""), dry_run=data.get("dry_run", False))
                log.info("%s reloaded the configuration (%s)", user.name, data)
                context = {"action": spec, "form": form, "reload": result, "dry_run": data.get("dry_run")}
                return render(request, "tools/maintenance_result.html", context)
            case "update-spam-rules":
                version = await api.update_spam_rules(
                    force=data.get("force", False), overwrite=data.get("overwrite", False)
                )
                if version:
                    messages.success(
                        request, gettext("Spam-filter rules updated to version %(version)s.") % {"version": version}
                    )
                elif user.capabilities.maintenance_tasks:
                    messages.success(request, gettext("Stalwart is updating the spam-filter rules in the background."))
                else:
                    messages.info(request, gettext("The spam-filter rules are already up to date."))
            case "update-webadmin":
                await api.update_webadmin()
                messages.success(request, gettext("The web admin was updated."))
            case "restart":
                await api.restart()
                messages.success(request, gettext("Stalwart is restarting."))
            case "reindex":
                await api.reindex(data.get("account", ""), data.get("index", ""))
                if data.get("account"):
                    text = gettext("Stalwart is rebuilding the search index of %(account)s in the background.") % {
                        "account": data["account"]
                    }
                else:
                    text = gettext("Stalwart is rebuilding the search index of every account in the background.")
                messages.success(request, text)
            case "purge-blobs":
                await api.purge_blobs()
                messages.success(request, gettext("Stalwart is purging the blob store in the background."))
            case "purge-data":
                await api.purge_data(data.get("store", ""))
                messages.success(request, gettext("Stalwart is purging the data store in the background."))
            case "purge-in-memory":
                await api.purge_in_memory(
                    data.get("store", ""), data.get("prefix", ""), known=user.capabilities.in_memory_prefixes
                )
                if data.get("prefix"):
                    text = gettext("Stalwart is purging the %(prefix)s keys from the in-memory store.") % {
                        "prefix": data["prefix"]
                    }
                else:
                    text = gettext("Stalwart is purging expired keys from the in-memory store.")
                messages.success(request, text)
            case "delete-bayes-global":
                await api.delete_bayes_global()
                messages.success(request, gettext("The server-wide Bayes spam model was deleted."))
            case "store-task" | "spam-classifier" | "recalculate-quota" | "invalidate-caches" | "domain-task":
                await _perform_task(request, spec, data)
            case "purge-accounts":
                await api.purge_account()
                messages.success(
                    request, gettext("Stalwart is purging deleted mail of every account in the background.")
                )
            case "reset-uids":
                counts = await api.reset_uids(data["account"])
                log.info("%s reset the IMAP UIDs of %s", user.name, data["account"])
                if counts is None:  # queued (0.16): no counts
                    messages.success(
                        request,
                        gettext("Stalwart is resetting the IMAP UIDs of %(account)s in the background.")
                        % {"account": data["account"]},
                    )
                    return HttpResponseRedirect(done)
                mailboxes, emails = counts
                context = {
                    "action": spec,
                    "form": form,
                    "account": data["account"],
                    "mailboxes": mailboxes,
                    "emails": emails,
                }
                return render(request, "tools/maintenance_result.html", context)
    except errors.ItemNotFound as exc:
        if form is not None and "domain" in form.fields:
            form.add_error("domain", gettext("There is no domain called %(domain)s.") % {"domain": data.get("domain")})
            return _action_page(request, spec, form, status=422)
        if form is None or "account" not in form.fields:
            raise exc
        form.add_error("account", gettext("There is no account called %(account)s.") % {"account": data.get("account")})
        return _action_page(request, spec, form, status=422)
    except errors.NotFound:
        if form is not None and "store" in form.fields:
            form.add_error("store", gettext("Stalwart has no store called %(store)s.") % {"store": data.get("store")})
            return _action_page(request, spec, form, status=422)
        raise
    except errors.Unsupported as exc:
        messages.warning(
            request, gettext("Stalwart cannot do this: %(reason)s.") % {"reason": exc.details or exc.message}
        )
        return HttpResponseRedirect(done)
    except responses.SUBMIT_FAILURES as exc:
        # <= 0.15 downloads the update while answering, so its 5xx means the download failed;
        # 0.16 only queues a task or runs an action, and a 5xx there is the call's own failure.
        downloads = spec.slug in ("update-spam-rules", "update-webadmin") and not user.native
        if isinstance(exc, errors.ServerError) and downloads:
            messages.error(request, gettext("Stalwart could not download the update. Can it reach the internet?"))
            return HttpResponseRedirect(done)
        context = {"action": spec, "form": form, "confirm": spec.confirm_needed(data) or spec.destructive}
        return responses.form_upstream_failure(
            request,
            "tools/maintenance_action.html",
            context,
            exc,
            form=form,
            check_url=done,
            check_label=gettext("Back to maintenance"),
            idempotent=spec.slug == "reload",
        )
    log.info("%s ran maintenance action %s (%s)", user.name, spec.slug, data)
    return HttpResponseRedirect(done)


async def _perform_task(request: PortalRequest, spec: Action, data: dict) -> None:
    """The actions only Stalwart 0.16 has: a task or an action each (`portal.stalwart.jmap.maintenance`)."""
    api = request.stalwart.maintenance
    match spec.slug:
        case "store-task":
            await api.create_task("StoreMaintenance", data["task"])
            text = gettext("Stalwart runs “%(task)s” in the background.") % {"task": _choice(spec, data, "task")}
        case "spam-classifier":
            await api.create_task("SpamFilterMaintenance", data["task"])
            text = gettext("Stalwart runs “%(task)s” in the background.") % {"task": _choice(spec, data, "task")}
        case "recalculate-quota":
            await api.create_task("AccountMaintenance", "recalculateQuota", account=data["account"])
            text = gettext("Stalwart is recounting the quota of %(account)s in the background.") % {
                "account": data["account"]
            }
        case "invalidate-caches":
            await api.run_action(data["action"])
            text = gettext("The caches were cleared.")
        case "domain-task":
            await api.create_task(data["task"], domain=data["domain"])
            text = gettext("Stalwart runs “%(task)s” for %(domain)s in the background.") % {
                "task": _choice(spec, data, "task"),
                "domain": data["domain"],
            }
        case _:
            raise Http404("No such maintenance action.")
    messages.success(request, text)


def _choice(spec: Action, data: dict, field: str) -> str:
    form = spec.form() if spec.form is not None else None
    choices = dict(form.fields[field].choices) if form is not None and field in form.fields else {}  # type: ignore[attr-defined]
    return str(choices.get(data.get(field), data.get(field, "")))


# --- one account: empty trash, delete its Bayes model -------------------------------------------
def _account_return(request: PortalRequest, name: str) -> str:
    user = request.portal_user
    if user.has("individual-get"):
        return reverse("directory:detail", kwargs={"kind": "accounts", "name": name})
    if MAINTENANCE_ACCESS.allows(user):
        return reverse("tools:maintenance")
    return reverse("home")


async def _account_action(request: PortalRequest, name: str, kind: str) -> HttpResponse:
    context = {"name": name, "kind": kind, "back": _account_return(request, name)}
    missing = request.portal_user.capabilities.why("bayes_purge") if kind == "delete-bayes" else ""
    if missing:  # 0.15 has no per-account Bayes keys to purge: say so, call nothing
        messages.warning(request, missing)
        return HttpResponseRedirect(context["back"])
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        return render(request, "tools/account_action.html", context)
    api = request.stalwart.maintenance
    user = request.portal_user
    try:
        if kind == "empty-trash":
            await api.purge_account(name)
        else:
            await api.delete_bayes_account(name)
    except errors.ItemNotFound:
        return render(request, "tools/account_action.html", {**context, "missing": True}, status=404)
    except responses.SUBMIT_FAILURES as exc:
        return responses.form_upstream_failure(
            request,
            "tools/account_action.html",
            context,
            exc,
            check_url=context["back"],
            check_label=gettext("Back to %(account)s") % {"account": name},
            idempotent=True,
        )
    log.info("%s ran %s for %s", user.name, kind, name)
    if kind == "empty-trash":
        messages.success(
            request,
            gettext("Stalwart is purging the deleted mail of %(account)s in the background.") % {"account": name},
        )
    else:
        messages.success(request, gettext("The Bayes spam model of %(account)s was deleted.") % {"account": name})
    return HttpResponseRedirect(context["back"])


@require_http_methods(["GET", "POST"])
@require(needs("purge-account"), target=Target("name", modifies=True))
async def account_empty_trash(request: PortalRequest, name: str) -> HttpResponse:
    return await _account_action(request, name, "empty-trash")


@require_http_methods(["GET", "POST"])
@require(needs("purge-in-memory-store"), target=Target("name", modifies=True))
async def account_delete_bayes(request: PortalRequest, name: str) -> HttpResponse:
    return await _account_action(request, name, "delete-bayes")
