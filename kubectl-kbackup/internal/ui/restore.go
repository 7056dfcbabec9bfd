package ui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/restore"
)

// RestoreOutput is what `restore -o json` prints: the restore record (the
// result of every object), and where the record was written.
type RestoreOutput struct {
	*restore.Result
	// Record is the record's location in the repository; empty for a dry
	// run, which writes none.
	Record string `json:"record,omitempty"`
}

// RecordLocation is where a restore record is: the repository's URL and
// the record's key.
func RecordLocation(repository, key string) string {
	if key == "" {
		return ""
	}
	base, query, _ := strings.Cut(repository, "?")
	out := strings.TrimSuffix(base, "/") + "/" + key
	if query != "" {
		out += "?" + query
	}
	return out
}

// RenderRestorePlan writes what a restore will do before it does it: the
// backup and the target, the outcome of every object per namespace and
// type, the existing objects that differ (with their diffs when showDiff),
// the objects that cannot be restored, and warnings.
func RenderRestorePlan(w io.Writer, s *Styles, plan *restore.Plan, showDiff bool) error {
	p := &printer{w: w}
	o := plan.Options
	p.line("Restore plan: backup %s of cluster %s (taken %s) into cluster %s",
		s.Strong.Render(plan.Backup.ID), plan.Backup.Cluster, plan.Backup.StartedAt.Format(time.RFC3339), s.Strong.Render(plan.Target.Name))
	kv := &keyValues{}
	kv.add("Target", targetText(plan.Target))
	kv.add("Existing objects", policyText(o.ExistingResourcePolicy))
	if o.ExistingResourcePolicy == restore.PolicyUpdate {
		if o.UpdateClusterResources {
			kv.add("Cluster-scoped", "existing ones that differ are overwritten too (--update-cluster-resources)")
		} else {
			kv.add("Cluster-scoped", "existing ones that differ are left as they are (--update-cluster-resources overwrites them)")
		}
	}
	if len(o.NamespaceMapping) > 0 {
		kv.add("Namespace mapping", o.NamespaceMapping.String())
	}
	kv.write(p, "  ")
	if p.err != nil {
		return p.err
	}
	totals, groups := plan.Counts()
	t := &Table{Headers: []string{"NAMESPACE", "RESOURCE", "CREATE", "UPDATE", "UNCHANGED", "SKIP", "FAIL"}}
	for _, g := range groups {
		t.AddRow(namespaceText(g.Namespace), g.Resource, countCell(g.Created), countCell(g.Updated), countCell(g.Unchanged), countCell(g.Skipped), countCell(g.Failed))
	}
	t.AddRow("TOTAL", Count(totals.Total, "object"), fmt.Sprint(totals.Created), fmt.Sprint(totals.Updated), fmt.Sprint(totals.Unchanged), fmt.Sprint(totals.Skipped), fmt.Sprint(totals.Failed))
	if err := t.Render(w, s); err != nil {
		return err
	}

	renderClusterScoped(p, s, plan.ClusterScoped())
	if differing := plan.Differing(); len(differing) > 0 {
		p.line("%s", s.Warn.Render(fmt.Sprintf("Existing objects that differ from the backup (%d), which policy %s %s:",
			len(differing), o.ExistingResourcePolicy, policyVerb(o.ExistingResourcePolicy))))
		for _, it := range differing {
			p.line("  %s", it.Display())
			if showDiff && p.err == nil {
				p.err = RenderUnifiedDiff(indented(indented(w)), s, it.Diff)
			}
		}
		if !showDiff {
			p.line("%s", s.Muted.Render("  (--show-diff shows how each differs)"))
		}
	}
	var failing []*restore.Item
	for _, it := range plan.Items {
		if it.Action == restore.ActionFail {
			failing = append(failing, it)
		}
	}
	if len(failing) > 0 {
		p.line("%s", s.Bad.Render(fmt.Sprintf("Cannot be restored (%d):", len(failing))))
		for _, it := range failing {
			p.line("  %s: %s", it.Display(), it.Reason)
		}
	}
	renderWarnings(p, s, plan.Warnings)
	return p.err
}

// renderClusterScoped names every cluster-scoped object of a plan, with
// what the restore does with it: a restore of some namespaces acts on the
// whole cluster through them, and a count would hide which.
func renderClusterScoped(p *printer, s *Styles, items []*restore.Item) {
	if len(items) == 0 {
		return
	}
	p.line("%s", s.Header.Render(fmt.Sprintf("Cluster-scoped objects (%d):", len(items))))
	for _, it := range items {
		why := ""
		if it.Action == restore.ActionSkip || it.Action == restore.ActionFail {
			why = ": " + it.Reason
		}
		p.line("  %-9s %s%s", actionWord(it.Action), it.Display(), why)
		for _, n := range it.Notes {
			p.line("            %s", s.Muted.Render(n))
		}
	}
}

// actionWord is an action as the plan's table heads it.
func actionWord(a restore.Action) string {
	switch a {
	case restore.ActionCreate:
		return "create"
	case restore.ActionUpdate:
		return "update"
	case restore.ActionNone:
		return "unchanged"
	case restore.ActionSkip:
		return "skip"
	}
	return "fail"
}

// PlanChanges counts the objects a plan creates or updates.
func PlanChanges(plan *restore.Plan) int {
	totals, _ := plan.Counts()
	return totals.Created + totals.Updated
}

// RenderRestoreResult writes what a restore did: the outcome per namespace
// and type, every object that failed with the target's error, every object
// skipped with its reason, warnings, and where the record is.
func RenderRestoreResult(w io.Writer, s *Styles, res *restore.Result, record string, showDiff bool) error {
	p := &printer{w: w}
	title := "Restore"
	if res.DryRun {
		title = "Dry run of restore"
	}
	p.line("%s %s of backup %s (cluster %s) into cluster %s: %s", title, s.Strong.Render(res.ID), res.Backup.ID, res.Backup.Cluster, res.Target.Name, s.Status(string(res.Phase)))
	if p.err != nil {
		return p.err
	}
	if err := renderOutcomeTable(w, s, res); err != nil {
		return err
	}
	t := res.Totals
	summary := fmt.Sprintf("%s: %d created, %d updated, %d unchanged, %d skipped, %d failed, in %s",
		Count(t.Total, "object"), t.Created, t.Updated, t.Unchanged, t.Skipped, t.Failed, Duration(res.Duration()))
	if rate := res.Rate(); rate > 0 && res.Duration() >= 100*time.Millisecond {
		summary += fmt.Sprintf(" (%.0f objects/s)", rate)
	}
	p.line("%s", summary)
	switch {
	case t.Failed == 0 && t.Created+t.Updated == 0:
		p.line("%s", s.Good.Render("Nothing changed: every object sent is already in the target as the backup has it."))
	case res.DryRun && t.Failed == 0:
		p.line("%s", s.Good.Render("The target's API server accepted every object sent (dryRun=All); nothing was changed."))
	case res.DryRun:
		p.line("%s", s.Warn.Render("Nothing was changed (dryRun=All); the objects below would fail."))
	}
	renderObjectOutcomes(p, w, s, res, showDiff)
	renderWarnings(p, s, res.Warnings)
	switch {
	case res.DryRun:
		p.line("%s", s.Muted.Render("Dry run: no restore record is written."))
	case record != "":
		p.line("Record:  %s", record)
		if !s.Plain {
			p.line("%s", s.Muted.Render(fmt.Sprintf("See it with: kubectl kbackup restore describe %s", res.ID)))
		}
	}
	return p.err
}

// renderOutcomeTable writes the outcomes per namespace and type, and the
// totals.
func renderOutcomeTable(w io.Writer, s *Styles, res *restore.Result) error {
	t := &Table{Headers: []string{"NAMESPACE", "RESOURCE", "CREATED", "UPDATED", "UNCHANGED", "SKIPPED", "FAILED"}}
	for _, g := range res.Counts {
		t.AddRow(namespaceText(g.Namespace), g.Resource, countCell(g.Created), countCell(g.Updated), countCell(g.Unchanged), countCell(g.Skipped), countCell(g.Failed))
	}
	c := res.Totals
	t.AddRow("TOTAL", Count(c.Total, "object"), fmt.Sprint(c.Created), fmt.Sprint(c.Updated), fmt.Sprint(c.Unchanged), fmt.Sprint(c.Skipped), fmt.Sprint(c.Failed))
	return t.Render(w, s)
}

// renderObjectOutcomes lists the failed objects with their errors, the
// skipped ones with their reasons, and the updated ones; diffs with
// showDiff.
func renderObjectOutcomes(p *printer, w io.Writer, s *Styles, res *restore.Result, showDiff bool) {
	if failed := res.With(restore.Failed); len(failed) > 0 {
		p.line("%s", s.Bad.Render(fmt.Sprintf("Failed (%d):", len(failed))))
		for _, o := range failed {
			p.line("  %s: %s", resultText(o), o.Error)
		}
	}
	if updated := res.With(restore.Updated); len(updated) > 0 {
		p.line("%s", s.Header.Render(fmt.Sprintf("Updated (%d):", len(updated))))
		for _, o := range updated {
			p.line("  %s", resultText(o))
			if showDiff && p.err == nil {
				p.err = RenderUnifiedDiff(indented(indented(w)), s, o.Diff)
			}
		}
	}
	if skipped := res.With(restore.Skipped); len(skipped) > 0 {
		// By reason, in the order met: a whole-cluster restore skips
		// dozens of objects the API server makes for the same reason.
		p.line("%s", s.Warn.Render(fmt.Sprintf("Skipped (%d):", len(skipped))))
		var reasons []string
		byReason := map[string][]restore.ObjectResult{}
		for _, o := range skipped {
			if _, ok := byReason[o.Reason]; !ok {
				reasons = append(reasons, o.Reason)
			}
			byReason[o.Reason] = append(byReason[o.Reason], o)
		}
		for _, reason := range reasons {
			objs := byReason[reason]
			if len(objs) == 1 {
				p.line("  %s: %s", resultText(objs[0]), reason)
			} else {
				p.line("  %s (%d):", reason, len(objs))
			}
			for _, o := range objs {
				if len(objs) > 1 {
					p.line("    %s", resultText(o))
				}
				if showDiff && o.Diff != "" && p.err == nil {
					p.err = RenderUnifiedDiff(indented(indented(w)), s, o.Diff)
				}
			}
		}
	}
	var noted []restore.ObjectResult
	for _, o := range res.Objects {
		if len(o.Notes) > 0 && o.Outcome != restore.Skipped {
			noted = append(noted, o)
		}
	}
	if len(noted) > 0 {
		p.line("%s", s.Muted.Render(fmt.Sprintf("Changed to fit the target (%d):", len(noted))))
		for _, o := range noted {
			p.line("  %s: %s", resultText(o), strings.Join(o.Notes, "; "))
		}
	}
}

// resultText names an object of a result: "deployments.apps shop/api", with
// its namespace in the backup when a mapping changed it.
func resultText(o restore.ObjectResult) string {
	text := o.Resource + " " + qualified(o.Namespace, o.Name)
	if o.SourceNamespace != "" {
		text += " (from " + o.SourceNamespace + ")"
	}
	return text
}

func renderWarnings(p *printer, s *Styles, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	p.line("%s", s.Muted.Render("Warnings:"))
	for _, w := range warnings {
		p.line("  %s", w)
	}
}

// countCell leaves zeros out of a table cell, so that the numbers that
// matter stand out.
func countCell(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func targetText(t restore.TargetRef) string {
	text := t.Name
	var extra []string
	if t.ContextName != "" {
		extra = append(extra, "context "+t.ContextName)
	}
	if t.Server != "" {
		extra = append(extra, t.Server)
	}
	if t.KubernetesVersion != "" {
		extra = append(extra, "Kubernetes "+t.KubernetesVersion)
	}
	if len(extra) > 0 {
		text += " (" + strings.Join(extra, ", ") + ")"
	}
	return text
}

func policyText(p restore.ExistingResourcePolicy) string {
	switch p {
	case restore.PolicyUpdate:
		return "update: those that differ are overwritten with the backup's (server-side apply)"
	case restore.PolicyFail:
		return "fail: if any differ, nothing is restored"
	}
	return "skip: those that differ are left as they are (--existing-resource-policy update overwrites them)"
}

func policyVerb(p restore.ExistingResourcePolicy) string {
	switch p {
	case restore.PolicyUpdate:
		return "overwrites with the backup's"
	case restore.PolicyFail:
		return "refuses the whole restore for"
	}
	return "leaves as they are"
}

// RestoreSummary is one restore as `restore list -o json` shows it: the
// record without its objects.
type RestoreSummary struct {
	ID          string            `json:"id"`
	Backup      restore.BackupRef `json:"backup"`
	Target      restore.TargetRef `json:"target"`
	Phase       restore.Phase     `json:"phase"`
	StartedAt   time.Time         `json:"startedAt"`
	CompletedAt time.Time         `json:"completedAt"`
	Duration    string            `json:"duration"`
	Totals      restore.Counts    `json:"totals"`
	// Record is the key of the record in the repository.
	Record string `json:"record"`
}

// NewRestoreSummary summarises a record.
func NewRestoreSummary(res *restore.Result, key string) RestoreSummary {
	return RestoreSummary{ID: res.ID, Backup: res.Backup, Target: res.Target, Phase: res.Phase, StartedAt: res.StartedAt,
		CompletedAt: res.CompletedAt, Duration: res.Duration().Round(time.Millisecond).String(), Totals: res.Totals, Record: key}
}

// RestoreList is what `restore list -o json` prints.
type RestoreList struct {
	Items []RestoreSummary `json:"items"`
}

// RenderRestoreList writes restores as a table, oldest first.
func RenderRestoreList(w io.Writer, s *Styles, items []RestoreSummary, now time.Time) error {
	t := &Table{Headers: []string{"ID", "TARGET", "BACKUP", "PHASE", "CREATED", "UPDATED", "UNCHANGED", "SKIPPED", "FAILED", "AGE", "DURATION"}}
	for _, r := range items {
		c := r.Totals
		t.AddRow(r.ID, r.Target.Name, r.Backup.Cluster+"/"+r.Backup.ID, s.Status(string(r.Phase)),
			fmt.Sprint(c.Created), fmt.Sprint(c.Updated), fmt.Sprint(c.Unchanged), fmt.Sprint(c.Skipped), fmt.Sprint(c.Failed),
			Age(r.StartedAt, now), Duration(r.CompletedAt.Sub(r.StartedAt)))
	}
	return t.Render(w, s)
}

// RenderRestoreRecord writes a restore record as `kubectl describe` writes
// an object: what was restored from where into where, with which options,
// how each stage went, the outcomes, and every object that did not come out
// created or unchanged.
func RenderRestoreRecord(w io.Writer, s *Styles, res *restore.Result, record string, showDiff bool, now time.Time) error {
	p := &printer{w: w}
	kv := &keyValues{}
	kv.add("ID", res.ID)
	kv.add("Backup", fmt.Sprintf("%s of cluster %s (taken %s)", res.Backup.ID, res.Backup.Cluster, res.Backup.StartedAt.Format(time.RFC3339)))
	kv.add("Repository", orDash(res.Backup.Location))
	kv.add("Target", targetText(res.Target))
	kv.add("Target UID", orDash(res.Target.UID))
	kv.add("Phase", s.Status(string(res.Phase)))
	kv.add("Started", fmt.Sprintf("%s (%s ago)", res.StartedAt.Format(time.RFC3339), Age(res.StartedAt, now)))
	kv.add("Completed", fmt.Sprintf("%s (took %s)", res.CompletedAt.Format(time.RFC3339), Duration(res.Duration())))
	kv.add("Record", orDash(record))
	kv.write(p, "")

	p.line("%s", s.Header.Render("Options:"))
	o := res.Options
	opts := &keyValues{}
	opts.add("Namespaces", selectionText(o.IncludeNamespaces, o.ExcludeNamespaces, "all"))
	opts.add("Resources", selectionText(o.IncludeResources, o.ExcludeResources, "all"))
	opts.add("Label selector", orDash(o.LabelSelector))
	if o.Object != nil {
		opts.add("Object", o.Object.Resource+" "+qualified(o.Object.Namespace, o.Object.Name))
	}
	opts.add("Cluster resources", orDash(string(o.ClusterResources)))
	opts.add("Namespace mapping", orDash(o.NamespaceMapping.String()))
	opts.add("Existing objects", policyText(o.ExistingResourcePolicy))
	opts.add("Include owned", fmt.Sprint(o.IncludeOwned))
	opts.add("Preserve node ports", fmt.Sprint(o.PreserveNodePorts))
	opts.add("Concurrency", fmt.Sprint(o.Concurrency))
	opts.write(p, "  ")

	if len(res.Stages) > 0 {
		p.line("%s", s.Header.Render("Stages:"))
		if p.err != nil {
			return p.err
		}
		t := &Table{Headers: []string{"STAGE", "OBJECTS", "DURATION", "WAITED"}}
		for _, st := range res.Stages {
			waited := "-"
			if st.Waited > 0 {
				waited = Duration(st.Waited)
			}
			t.AddRow(string(st.Stage), fmt.Sprint(st.Objects), Duration(st.Duration), waited)
		}
		if err := t.Render(indented(w), s); err != nil {
			return err
		}
	}
	p.line("%s", s.Header.Render("Outcomes:"))
	if p.err != nil {
		return p.err
	}
	if err := renderOutcomeTable(indented(w), s, res); err != nil {
		return err
	}
	renderObjectOutcomes(p, w, s, res, showDiff)
	renderWarnings(p, s, res.Warnings)
	return p.err
}
