package terraform_test

// The projects people really have (issue 15): the configuration evaluated
// with the variables that README.md's "If your project…" cases set, each
// checked with checkDrift plus what that case needs:
//
//   - domain-restricted sharing: disable_invoker_iam_check = true grants
//     nothing to allUsers and names Settings' and Intake's services in the
//     output scripts/deploy reads.
//   - resource-location policies: secrets are replicated in the region and in
//     secret_replica_regions (checkDrift), and changing those changes every
//     secret's id, so that the replacement secret does not collide with the
//     old one (create_before_destroy).
//   - a fresh project imports nothing (importing a missing object fails);
//   - redeploy after tear-down: kms_import_existing imports the key ring and
//     the key, firestore_import_existing the database, with their ids
//     (checkDrift); the same import shares another app's (default) database;
//   - a (default) database that belongs to another app: with
//     firestore_database_id the database, its TTL policies and every
//     function's FIRESTORE_DATABASE use that id (checkDrift and below).
//
// TestDeployCasesCatchBrokenConfig breaks the configuration one way at a
// time, so that each check is seen to bite.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// loadConfigWith evaluates files with testVars plus overrides.
func loadConfigWith(files map[string][]byte, overrides map[string]cty.Value) (*evaluated, error) {
	m, err := parseModule(files)
	if err != nil {
		return nil, err
	}
	vars := testVars()
	for k, v := range overrides {
		vars[k] = v
	}
	return evaluate(m, vars, "project_id", "region")
}

// deployCase is one "If your project…" case: the variables it sets and what
// must hold of the configuration evaluated with them.
type deployCase struct {
	name  string
	vars  map[string]cty.Value
	check func(base, ev *evaluated) []string
}

func deployCases() []deployCase {
	return []deployCase{
		{
			name: "domain-restricted sharing",
			vars: map[string]cty.Value{"disable_invoker_iam_check": cty.True},
			check: func(_, ev *evaluated) []string {
				// checkDrift (run for every case) requires both public
				// functions to be named in the output and no allUsers grant.
				var p []string
				if n := len(strings.Split(asString(ev.Outputs[invokerCheckOutput]), "\n")); n != len(publicFunctions) {
					p = append(p, fmt.Sprintf("output %s names %d services, want %d (Settings and Intake)", invokerCheckOutput, n, len(publicFunctions)))
				}
				return p
			},
		},
		{
			name: "fresh project",
			check: func(_, ev *evaluated) []string {
				var p []string
				for _, imp := range ev.Imports {
					p = append(p, fmt.Sprintf("imports %s by default: on a fresh project the object does not exist and the apply fails", imp.To))
				}
				return p
			},
		},
		{
			name: "redeploy after tear-down",
			vars: map[string]cty.Value{"kms_import_existing": cty.True, "firestore_import_existing": cty.True},
			check: func(_, ev *evaluated) []string {
				return wantImports(ev, "google_kms_key_ring.tokens", "google_kms_crypto_key.tokens", "google_firestore_database.main")
			},
		},
		{
			name: "own named Firestore database",
			vars: map[string]cty.Value{"firestore_database_id": cty.StringVal("contactsync")},
			check: func(_, ev *evaluated) []string {
				var p []string
				for _, db := range ev.ofType("google_firestore_database") {
					if got := str(db.Val, "name"); got != "contactsync" {
						p = append(p, fmt.Sprintf("%s is named %q, want firestore_database_id %q", db, got, "contactsync"))
					}
				}
				for _, fn := range ev.ofType("google_cloudfunctions2_function") {
					if got := str(fn.Val, "service_config", 0, "environment_variables", "FIRESTORE_DATABASE"); got != "contactsync" {
						p = append(p, fmt.Sprintf("%s: FIRESTORE_DATABASE is %q, want %q", fn, got, "contactsync"))
					}
				}
				return p
			},
		},
		{
			name: "extra secret replicas",
			vars: map[string]cty.Value{"secret_replica_regions": cty.ListVal([]cty.Value{cty.StringVal("europe-west4")})},
			check: func(base, ev *evaluated) []string {
				var p []string
				ids := map[string]string{}
				for _, s := range base.ofType("google_secret_manager_secret") {
					ids[s.Key] = str(s.Val, "secret_id")
				}
				for _, s := range ev.ofType("google_secret_manager_secret") {
					if id := str(s.Val, "secret_id"); id == ids[s.Key] {
						p = append(p, fmt.Sprintf("%s keeps its id %q when its replicas change: the replacement would collide with the old secret", s, id))
					}
				}
				return p
			},
		},
	}
}

// wantImports reports each of addrs that ev does not import.
func wantImports(ev *evaluated, addrs ...string) []string {
	var p []string
	for _, a := range addrs {
		if !slices.ContainsFunc(ev.Imports, func(i importInst) bool { return i.To == a }) {
			p = append(p, fmt.Sprintf("%s is not imported", a))
		}
	}
	return p
}

// checkDeployCases evaluates files with each case's variables and returns
// every problem, prefixed by the case's name.
func checkDeployCases(files map[string][]byte) []string {
	base, err := loadConfigWith(files, nil)
	if err != nil {
		return []string{"defaults: " + err.Error()}
	}
	var problems []string
	for _, c := range deployCases() {
		ev, err := loadConfigWith(files, c.vars)
		if err != nil {
			problems = append(problems, c.name+": "+err.Error())
			continue
		}
		for _, p := range checkDrift(ev, expectedCode()) {
			problems = append(problems, c.name+": "+p)
		}
		for _, p := range c.check(base, ev) {
			problems = append(problems, c.name+": "+p)
		}
	}
	return problems
}

// TestDeployCases checks the repository's configuration in every case.
func TestDeployCases(t *testing.T) {
	files, _ := loadRepoConfig(t)
	for _, p := range checkDeployCases(files) {
		t.Error(p)
	}
}

// TestDeployCasesCatchBrokenConfig breaks the configuration one way at a
// time and requires a problem that mentions want.
func TestDeployCasesCatchBrokenConfig(t *testing.T) {
	files, _ := loadRepoConfig(t)
	tests := []struct {
		name     string
		file     string
		old, new string
		want     string
	}{
		{"allUsers grant kept", "function_intake.tf", "  count = var.disable_invoker_iam_check ? 0 : 1\n", "", "domain-restricted sharing: Intake: allUsers holds roles/run.invoker although disable_invoker_iam_check is true"},
		{"Intake's check left on", "outputs.tf", "[google_cloudfunctions2_function.settings, google_cloudfunctions2_function.intake]", "[google_cloudfunctions2_function.settings]", "domain-restricted sharing: Intake is not publicly invokable: disable_invoker_iam_check is true"},
		{"Poll's check turned off", "outputs.tf", "google_cloudfunctions2_function.intake] : fn", "google_cloudfunctions2_function.intake, google_cloudfunctions2_function.poll] : fn", "domain-restricted sharing: Poll is publicly invokable (output invoker_iam_check_disabled_services"},
		{"extra replica regions ignored", "secrets.tf", "for_each = local.secret_locations", "for_each = [var.region]", "extra secret replicas: google_secret_manager_secret.this[\"session_key\"] is replicated to [europe-west1], want [europe-west1 europe-west4]"},
		{"secret ids without the replicas", "secrets.tf", "-session-key-${local.secret_suffix}", "-session-key", "keeps its id \"contactsync-session-key\" when its replicas change"},
		{"KMS imported unconditionally", "kms.tf", "for_each = var.kms_import_existing ? toset([\"tokens\"]) : toset([])\n\n  to = google_kms_key_ring.tokens", "to = google_kms_key_ring.tokens", "fresh project: imports google_kms_key_ring.tokens by default"},
		{"key not imported", "kms.tf", "  to = google_kms_crypto_key.tokens\n", "  to = google_kms_key_ring.tokens\n", "redeploy after tear-down: google_kms_crypto_key.tokens is not imported"},
		{"wrong key import id", "kms.tf", `id = "${local.kms_key_ring_id}/cryptoKeys/tokens"`, `id = "${local.kms_key_ring_id}/keys/tokens"`, `import into google_kms_crypto_key.tokens uses id "projects/drift-project/locations/europe-west1/keyRings/contactsync-tokens/keys/tokens"`},
		{"database name fixed", "firestore.tf", "  name        = var.firestore_database_id\n", "  name        = \"(default)\"\n", `own named Firestore database: google_firestore_database.main is named "(default)", want firestore_database_id "contactsync"`},
		{"TTL on the wrong database", "firestore.tf", "  database   = google_firestore_database.main.name\n  collection = each.key", "  database   = \"(default)\"\n  collection = each.key", `own named Firestore database: google_firestore_field.ttl["oauth_states"] is on database "(default)", but the functions use "contactsync"`},
		{"FIRESTORE_DATABASE fixed", "main.tf", "FIRESTORE_DATABASE   = google_firestore_database.main.name", "FIRESTORE_DATABASE   = \"(default)\"", `own named Firestore database: google_cloudfunctions2_function.apply: FIRESTORE_DATABASE is "(default)", but the Firestore database is "contactsync"`},
		{"Firestore imported unconditionally", "firestore.tf", "for_each = var.firestore_import_existing ? toset([var.firestore_database_id]) : toset([])", "for_each = toset([var.firestore_database_id])", "fresh project: imports google_firestore_database.main by default"},
		{"wrong database import id", "firestore.tf", `id = "projects/${var.project_id}/databases/${each.key}"`, `id = each.key`, `import into google_firestore_database.main uses id "(default)"`},
		{"no invoker-check variable", "variables.tf", "variable \"disable_invoker_iam_check\" {", "variable \"keep_invoker_iam_check\" {", "disable_invoker_iam_check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := string(files[tt.file])
			if !strings.Contains(src, tt.old) {
				t.Fatalf("%s no longer contains %q: update this test case", tt.file, tt.old)
			}
			broken := map[string][]byte{}
			for k, v := range files {
				broken[k] = v
			}
			broken[tt.file] = []byte(strings.Replace(src, tt.old, tt.new, 1))
			problems := checkDeployCases(broken)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got:\n  %s", tt.want, strings.Join(problems, "\n  "))
			}
		})
	}
}
