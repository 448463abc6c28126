"""What a document may cost, worked out before anything runs, and charged to a budget.

A field costs 1; a connection multiplies what its `edges` or `nodes` select by its `first`
(the argument, the variable's value, or the schema's default); any other list multiplies its
items by the most it can hold (`LIST_SIZES`); a mutation costs `MUTATION_WEIGHT`, and one that
hashes a password `HASHING_WEIGHT`, so aliases of it add up fast. Fragments on several types of
an interface or union are counted together: the figure is an upper bound.

A document over `max_cost` is refused before any resolver runs. Otherwise the requested cost
is reserved from the caller's budget for the window, and after execution the actual cost (the
values in the answer, plus the weights of the mutations called) is what stays charged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from integrations.counters import Window
from resolvers.app_model import MAX_APPS_PER_DEVELOPER, MAX_REDIRECT_URIS, WEBHOOK_EVENTS, AppScope
from resolvers.attendees import MAX_ATTENDEES
from resolvers.audit import MAX_AUDIT_DETAILS, MAX_AUDIT_TARGETS
from resolvers.calendars import MAX_CALENDARS_PER_WORKSPACE
from resolvers.calendars import MAX_SHARES as MAX_CALENDAR_SHARES
from resolvers.context import RequestContext
from resolvers.cost_budget import CostBudget, CostReport
from resolvers.drive import MAX_SHARES_PER_ITEM
from resolvers.errors import CoveError, ErrorCode
from resolvers.event_details import MAX_REMINDERS
from resolvers.exports import LISTED as EXPORTS_LISTED
from resolvers.incoming_webhooks import MAX_PER_CHANNEL as MAX_INCOMING_WEBHOOKS
from resolvers.invitations import MAX_PENDING_INVITATIONS_SHOWN
from resolvers.messages import MAX_ATTACHMENTS, MAX_MENTIONS
from resolvers.pagination import MAX_PAGE_SIZE
from resolvers.recurrence import MAX_EXDATES, MAX_OCCURRENCES
from resolvers.tasks import (
    MAX_AGENDA_TASKS,
    MAX_ASSIGNEES,
    MAX_BOARDS,
    MAX_CHECKLIST,
    MAX_LABELS,
    MAX_LISTS,
)
from resolvers.two_factor import RECOVERY_CODES
from schema.context import CONTEXT_KEY

log = logging.getLogger("cove.graphql")

MUTATION_WEIGHT = 10
HASHING_WEIGHT = 2000
# Mutations that run Argon2 (about 64 MiB and tens of milliseconds each).
HASHING_MUTATIONS = frozenset(
    {
        "signUp",
        "logIn",
        "changePassword",
        "createShareLink",
        "disableTwoFactor",
        "confirmTwoFactorEnrolment",
        "resetPassword",
        "requestEmailChange",
    }
)
# Reactions are grouped by emoji; no limit holds their number, so this is an assumption, and
# the actual cost charged afterwards counts the real ones.
ASSUMED_REACTION_GROUPS = 50
SHARE_LINKS_SHOWN = 100

# The most items each list without a `first` can hold (most come from a limit on writes).
LIST_SIZES: Mapping[str, int] = {
    "AuditEvent.details": MAX_AUDIT_DETAILS,
    "AuditEvent.targetIds": MAX_AUDIT_TARGETS,
    "User.invitations": MAX_PENDING_INVITATIONS_SHOWN,
    "RecoveryCodesPayload.recoveryCodes": RECOVERY_CODES,
    "Agenda.events": MAX_OCCURRENCES,
    "Agenda.tasks": MAX_AGENDA_TASKS,
    "Task.assignees": MAX_ASSIGNEES,
    "Task.labels": MAX_LABELS,
    "Task.checklist": MAX_CHECKLIST,
    "Board.lists": MAX_LISTS,
    "Workspace.calendars": MAX_CALENDARS_PER_WORKSPACE,
    "Workspace.boards": MAX_BOARDS,
    "Channel.boards": MAX_BOARDS,
    "Channel.incomingWebhooks": MAX_INCOMING_WEBHOOKS,
    "Message.mentions": MAX_MENTIONS,
    "Message.reactions": ASSUMED_REACTION_GROUPS,
    "Message.attachments": MAX_ATTACHMENTS,
    "Folder.shares": MAX_SHARES_PER_ITEM,
    "File.shares": MAX_SHARES_PER_ITEM,
    "File.shareLinks": SHARE_LINKS_SHOWN,
    "Calendar.shares": MAX_CALENDAR_SHARES,
    "Calendar.events": MAX_OCCURRENCES,
    "Event.exceptionDates": MAX_EXDATES,
    "Event.reminders": MAX_REMINDERS,
    "Event.attendees": MAX_ATTENDEES,
    "Event.occurrences": MAX_OCCURRENCES,
    "DriveSharesPayload.shares": MAX_SHARES_PER_ITEM,
    "Query.myApps": MAX_APPS_PER_DEVELOPER,
    "Query.exports": EXPORTS_LISTED,
    "Query.appScopes": len(AppScope),
    "App.redirectUris": MAX_REDIRECT_URIS,
    "App.scopes": len(AppScope),
    "App.webhookEvents": len(WEBHOOK_EVENTS),
    "AppInstallRequest.scopes": len(AppScope),
    "AppInstallRequest.installedScopes": len(AppScope),
}
# A field with a `first` argument sizes the lists below it: a connection's `edges` and
# `nodes`, and the lists named here; a list field with `first` is sized by it directly.
_PAGED_LISTS = frozenset({"edges", "nodes"})
SIZED_CHILDREN: Mapping[str, frozenset[str]] = {"User.agenda": frozenset({"events"})}
PAGE_MAX: Mapping[str, int] = {"User.agenda": MAX_OCCURRENCES}  # else MAX_PAGE_SIZE


@dataclass(frozen=True)
class Cost:
    """A document's worst case; `weights` is the part the answer's size does not show."""

    total: int
    weights: int


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Walk:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        # Fragments spread many times are walked once per (fragment, page size): no
        # document can make the walk itself exponential.
        self.memo: dict[tuple[str, int | None, frozenset[str]], Cost] = {}
        self.active: set[str] = set()
        self.sized: frozenset[str] = _PAGED_LISTS

    def page_size(self, node: FieldNode, definition: GraphQLField, most: int) -> int:
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value: object = definition.args["first"].default_value
        if argument is not None:
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value, most)
            else:
                value = most
        if not isinstance(value, int) or isinstance(value, bool):
            return most
        # Out-of-range values are refused by the field itself; here they cost the most allowed.
        return max(1, min(value, most))

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, page: int | None
    ) -> Cost:
        total = weights = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost = self.field(parent, selection, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                found = self.schema.get_type(condition.name.value) if condition else parent
                cost = self.selections(found or parent, selection.selection_set, page)
            elif isinstance(selection, FragmentSpreadNode):
                cost = self.spread(selection.name.value, page)
            else:  # pragma: no cover - no other kind of selection exists
                continue
            total += cost.total
            weights += cost.weights
        return Cost(total, weights)

    def spread(self, name: str, page: int | None) -> Cost:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:  # validation refuses both first
            return Cost(0, 0)
        key = (name, page, self.sized)
        if key not in self.memo:
            self.active.add(name)
            found = self.schema.get_type(fragment.type_condition.name.value)
            self.memo[key] = (
                self.selections(found, fragment.selection_set, page) if found else Cost(0, 0)
            )
            self.active.discard(name)
        return self.memo[key]

    def field(self, parent: GraphQLNamedType, node: FieldNode, page: int | None) -> Cost:
        name = node.name.value
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return Cost(1, 0)
        definition = parent.fields.get(name)
        if definition is None:  # __typename and the introspection fields
            return Cost(1, 0)
        key = f"{parent.name}.{name}"
        weight = 1
        if parent is self.schema.mutation_type:
            weight = HASHING_WEIGHT if name in HASHING_MUTATIONS else MUTATION_WEIGHT
        is_list = _is_list(definition.type)
        sliced = "first" in definition.args
        times = 1
        if is_list and sliced:
            times = self.page_size(node, definition, LIST_SIZES.get(key, MAX_PAGE_SIZE))
        elif is_list and page is not None and name in self.sized:
            times = page
        elif is_list:
            times = LIST_SIZES.get(key, MAX_PAGE_SIZE)
        if node.selection_set is None:
            return Cost(weight + (times if is_list else 0), weight - 1)
        inner_page = None
        if sliced and not is_list:
            inner_page = self.page_size(node, definition, PAGE_MAX.get(key, MAX_PAGE_SIZE))
        outer = self.sized
        self.sized = SIZED_CHILDREN.get(key, _PAGED_LISTS)
        child = self.selections(get_named_type(definition.type), node.selection_set, inner_page)
        self.sized = outer
        return Cost(weight + times * child.total, (weight - 1) + times * child.weights)


def chosen_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request runs, as the GraphQL spec chooses it: the one named, or the
    only one; None when the name matches nothing or several operations are left unnamed."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name and o.name.value == operation_name]
    return named[0] if len(named) == 1 else None


def document_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> Cost:
    """The worst-case cost of the operation a request runs; with no single operation chosen,
    the costliest of them (never less than what any could cost)."""
    chosen = chosen_operation(document, operation_name)
    operations = (
        [chosen]
        if chosen is not None
        else [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    )
    walk = _Walk(schema, document, variables or {})
    costs = [Cost(0, 0)]
    for operation in operations:
        root = schema.get_root_type(operation.operation)
        if root is not None:
            costs.append(walk.selections(root, operation.selection_set, None))
    return max(costs, key=lambda cost: cost.total)


def unchosen(operation_name: str | None) -> GraphQLError:
    message = (
        "The document holds several operations: name the one to run in `operationName`."
        if operation_name is None
        else "No single operation in the document has the name given in `operationName`."
    )
    return GraphQLError(message, extensions={"code": ErrorCode.BAD_USER_INPUT.value})


def answer_cost(value: object) -> int:
    """The values in an answer: each field and each list item counts 1 (a list item that is
    an object or a list counts what it holds instead). Loops, not generators: every answer
    is counted, and a page holds hundreds of values."""
    total = 0
    if isinstance(value, dict):
        total = len(value)
        for item in value.values():
            if isinstance(item, dict | list):
                total += answer_cost(item)
    elif isinstance(value, list):
        for item in value:
            total += answer_cost(item) if isinstance(item, dict | list) else 1
    return total


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"This document may cost {cost}; the limit is {limit}. Ask for smaller pages "
        "(`first`), fewer nested lists or fewer fields.",
        extensions={"code": ErrorCode.QUERY_TOO_COSTLY.value, "cost": cost, "limit": limit},
    )


class QueryCost(SchemaExtension):
    """Refuses documents over the limit, and charges the rest to the caller's budget."""

    def __init__(self, max_cost: int) -> None:
        super().__init__()
        self._max_cost = max_cost
        self._report: CostReport | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        found = context.context.get(CONTEXT_KEY) if isinstance(context.context, dict) else None
        request: RequestContext | None = found
        if context.graphql_document is None:
            yield
            return
        # What the request named: strawberry's `operation_name` falls back to the first
        # operation's, so several unnamed operations would run the first, whatever the others
        # cost. The GraphQL spec makes that a request error.
        provided = getattr(context, "_provided_operation_name", context.operation_name)
        if chosen_operation(context.graphql_document, provided) is None:
            context.result = ExecutionResult(None, [unchosen(provided)])
            yield
            return
        cost = document_cost(
            context.schema._schema,
            context.graphql_document,
            context.operation_name,
            context.variables,
        )
        if cost.total > self._max_cost:
            context.result = ExecutionResult(None, [too_costly(cost.total, self._max_cost)])
            yield
            return
        budget = request.services.cost_budget if request is not None else None
        if request is None or budget is None:
            yield
            return
        try:
            key = await request.budget_key()
            reserved = await budget.reserve(key, cost.total)
        except Exception as exc:  # refused, or the store failed: the answer says so, coded
            if isinstance(exc, CoveError):
                request.cost = self._report_of(cost.total, 0, budget, None, exc.retry_after)
            context.result = ExecutionResult(None, [GraphQLError(str(exc), original_error=exc)])
            yield
            return
        yield
        actual = answer_cost(getattr(context.result, "data", None)) + cost.weights
        window = await budget.settle(key, reserved, cost.total, actual)
        request.cost = self._report = self._report_of(cost.total, actual, budget, window, None)

    def _report_of(
        self,
        requested: int,
        actual: int,
        budget: CostBudget,
        window: Window | None,
        retry_after: int | None,
    ) -> CostReport:
        if retry_after is not None:  # refused: nothing left until the window renews
            remaining: int | None = 0
            resets_at: float | None = budget.clock() + retry_after
        else:
            remaining = max(0, budget.policy.budget - window.used) if window else None
            resets_at = window.resets_at if window else None
        return CostReport(
            requested=requested,
            actual=actual,
            maximum=self._max_cost,
            budget=budget.policy.budget,
            remaining=remaining,
            resets_at=resets_at,
        )

    def get_results(self) -> dict[str, Any]:
        report = self._report
        if report is None:
            return {}
        cost: dict[str, Any] = {
            "requested": report.requested,
            "actual": report.actual,
            "limit": report.maximum,
        }
        if report.remaining is not None and report.resets_at is not None:
            cost["budget"] = report.budget
            cost["remaining"] = report.remaining
            cost["resetAt"] = datetime.fromtimestamp(report.resets_at, UTC).isoformat()
        return {"cost": cost}
