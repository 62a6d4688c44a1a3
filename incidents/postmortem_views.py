"""Postmortem pages: write or edit one (the blameless template with corrective actions),
export it as Markdown, and the list of postmortems with their open and overdue actions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from incidents.forms import CorrectiveActionFormSet, PostmortemForm
from incidents.models import CorrectiveAction, Incident, Postmortem
from incidents.postmortem_services import (
    BLAMELESS_NOTE,
    PROMPTS,
    overdue_actions,
    postmortem_impact,
    postmortem_list,
    postmortem_markdown,
    postmortem_save,
    timeline_entries,
)
from penguinmon.roles import capability_required, user_can


def _initial(incident: Incident, pm: Postmortem | None) -> tuple[dict, list[dict]]:
    if pm is None:
        # The template starts with the recorded timeline; the rest is the team's to write.
        return {"timeline": "\n".join(e.line() for e in timeline_entries(incident))}, []
    data = pm.written()
    for n, why in enumerate(pm.five_whys or [], 1):
        data[f"why_{n}"] = why
    return data, [a.written() for a in pm.actions.all()]


@require_http_methods(["GET", "POST"])
@capability_required("view_alerts")
def postmortem_edit(request, incident_id: int):
    incident = get_object_or_404(Incident, pk=incident_id)
    pm = Postmortem.objects.filter(incident=incident).first()
    can_edit = user_can(request.user, "manage_incidents")
    initial, action_rows = _initial(incident, pm)
    form = PostmortemForm(initial=initial)
    formset = CorrectiveActionFormSet(initial=action_rows, prefix="actions")
    status = 200
    if request.method == "POST":
        if not can_edit:
            messages.error(request, "Your role does not allow writing postmortems.")
            return redirect(f"/incidents/{incident.pk}/postmortem/")
        form = PostmortemForm(request.POST)
        formset = CorrectiveActionFormSet(request.POST, initial=action_rows, prefix="actions")
        status = 400
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            rows, row_forms = [], []
            for f in formset.forms:
                if f.cleaned_data.get("DELETE") or f.is_blank():
                    continue
                rows.append({k: f.cleaned_data.get(k) for k in CorrectiveAction.WRITTEN_FIELDS})
                row_forms.append(f)
            try:
                postmortem_save(
                    incident=incident,
                    user=request.user,
                    summary=data["summary"],
                    five_whys=[data[k] for k in PostmortemForm.WHY_FIELDS],
                    review_meeting_on=data["review_meeting_on"],
                    actions=rows,
                    **{k: data[k] for k in Postmortem.TEXT_FIELDS},
                )
                messages.success(request, "Postmortem saved.")
                return redirect(f"/incidents/{incident.pk}/postmortem/")
            except ValidationError as exc:
                for key, errs in exc.message_dict.items():
                    if key.startswith("actions["):
                        index, _, field = key[len("actions[") :].partition("]")
                        target = row_forms[int(index)]
                        field = field.lstrip(".")
                        target.add_error(field if field in target.fields else None, errs)
                    elif key in form.fields:
                        form.add_error(key, errs)
                    else:
                        form.add_error(None, errs)
    impact = pm.impact if pm else (postmortem_impact(incident) if not incident.is_open else {})
    return render(
        request,
        "incidents/postmortem.html",
        {
            "incident": incident,
            "postmortem": pm,
            "form": form,
            "formset": formset,
            "impact": impact,
            "can_edit": can_edit and not incident.is_open,
            "blameless_note": BLAMELESS_NOTE,
            "prompts": PROMPTS,
        },
        status=status,
    )


@require_GET
@capability_required("view_alerts")
def postmortem_export(request, incident_id: int):
    pm = get_object_or_404(Postmortem.objects.select_related("incident"), incident_id=incident_id)
    response = HttpResponse(postmortem_markdown(pm), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="postmortem-incident-{incident_id}.md"'
    return response


@require_GET
@capability_required("view_alerts")
def postmortem_index(request):
    return render(
        request,
        "incidents/postmortems.html",
        {"postmortems": postmortem_list(), "overdue": overdue_actions()},
    )
