package terraform_test

// Tests of scripts/deploy: it runs with fake terraform and gcloud commands
// first on PATH, which log every call and answer as the scenario says, and
// the test checks what the script ran, printed and returned.
//
// The script must run on bash 3.2 (macOS's bash). The tests run it with
// "bash" from PATH, or with $DEPLOY_TEST_BASH (e.g. a bash 3.2 binary);
// TestDeployBash32Constructs checks the constructs that fail there
// whatever bash runs the tests.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeTerraform answers "terraform version" with $FAKE_TF_VERSION, "state
// list" with $FAKE_TF_STATE (no state file when unset), "output -raw NAME"
// with $FAKE_TF_OUTPUT_<NAME> or a URL, and everything else with success.
const fakeTerraform = `#!/bin/sh
echo "terraform $*" >>"$FAKE_LOG"
if [ "$1" = version ]; then echo "Terraform v${FAKE_TF_VERSION:-1.11.4}"; echo "on linux_amd64"; exit 0; fi
shift # -chdir=...
case "$1 $2" in
"state list")
	[ -n "${FAKE_TF_STATE+x}" ] || { echo "No state file was found!" >&2; exit 1; }
	printf '%s\n' "$FAKE_TF_STATE" ;;
"output -raw")
	eval "v=\${FAKE_TF_OUTPUT_$3-https://example.test/$3}"
	printf '%s' "$v" ;;
esac
exit 0
`

// fakeGcloud answers as a logged-in user in project $FAKE_PROJECT; the
// FAKE_* variables below describe what exists in the project.
const fakeGcloud = `#!/bin/sh
echo "gcloud $*" >>"$FAKE_LOG"
case "$1 $2" in
"auth list") echo "${FAKE_ACCOUNT-me@example.com}" ;;
"auth application-default") echo token ;;
"config get-value") echo "$FAKE_PROJECT" ;;
"projects describe") echo "$FAKE_PROJECT" ;;
"services list") echo "${FAKE_ENABLED_SERVICES-}" ;;
"services enable") ;;
"kms keyrings") [ -n "${FAKE_KEY_RING-}" ] || exit 1 ;;
"kms keys")
	case "$3" in
	describe) [ -n "${FAKE_KEY_PRIMARY+x}" ] || exit 1; echo "$FAKE_KEY_PRIMARY" ;;
	esac ;;
"firestore databases") [ -n "${FAKE_FIRESTORE-}" ] || exit 1; printf '%s\n' "$FAKE_FIRESTORE" ;;
"run services") ;;
*) echo "fake gcloud: unexpected $*" >&2; exit 9 ;;
esac
exit 0
`

const deployTFVars = `project_id                 = "proj-123"
region                     = "europe-west3"
google_oauth_client_id     = "1-x.apps.googleusercontent.com"
google_oauth_client_secret = "g-secret"
pipedrive_client_id        = "pd"
pipedrive_client_secret    = "pd-secret"
`

type deployRun struct {
	out   string   // stdout and stderr
	calls []string // "terraform …" / "gcloud …", in order
	err   error
}

// ran reports whether a call starts with prefix.
func (r deployRun) ran(prefix string) bool {
	return slices.ContainsFunc(r.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// tf returns the terraform call with subcommand verb ("plan", "apply"…),
// whatever directory -chdir names; "" if there is none.
func (r deployRun) tf(verb string) string {
	for _, c := range r.calls {
		if f := strings.Fields(c); len(f) > 2 && f[0] == "terraform" && strings.HasPrefix(f[1], "-chdir=") && f[2] == verb {
			return c
		}
	}
	return ""
}

// runDeploy runs scripts/deploy with the fakes, tfvars as the variables
// file (none when empty) and env on top of a minimal environment.
func runDeploy(t *testing.T, tfvars string, env map[string]string, args ...string) deployRun {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"terraform": fakeTerraform, "gcloud": fakeGcloud} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(src), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	varsFile := filepath.Join(dir, "deploy.tfvars")
	if tfvars != "" {
		if err := os.WriteFile(varsFile, []byte(tfvars), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "calls.log")
	sh := os.Getenv("DEPLOY_TEST_BASH")
	if sh == "" {
		var err error
		if sh, err = exec.LookPath("bash"); err != nil {
			t.Skip("bash is not installed")
		}
	}
	cmd := exec.Command(sh, append([]string{"../scripts/deploy"}, args...)...)
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + "/usr/bin:/bin",
		"HOME=" + dir,
		"FAKE_LOG=" + log,
		"FAKE_PROJECT=proj-123",
		"TFVARS=" + varsFile,
		// disable_invoker_iam_check is false unless a test says otherwise.
		"FAKE_TF_OUTPUT_invoker_iam_check_disabled_services=",
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	calls, _ := os.ReadFile(log)
	return deployRun{out: string(out), calls: strings.Split(strings.TrimSpace(string(calls)), "\n"), err: err}
}

func TestDeploy(t *testing.T) {
	tests := []struct {
		name    string
		tfvars  string
		env     map[string]string
		args    []string
		wantErr bool
		want    []string // substrings of calls (prefixed "call:") or of the output
		notWant []string
	}{
		{
			name:   "fresh project, plan only",
			tfvars: deployTFVars,
			args:   []string{"--plan-only"},
			want: []string{
				"call:terraform -chdir=", "call:gcloud kms keyrings describe contactsync-tokens --location=europe-west3 --project=proj-123",
				"tf:init", "tf:validate", "tf:plan", "Plan only: Terraform changed nothing",
			},
			notWant: []string{"tf:apply", "kms_import_existing", "call:gcloud kms keys versions create", "call:gcloud services"},
		},
		{
			name:    "apply passes the variables file and prints the URLs",
			tfvars:  deployTFVars,
			args:    []string{"--auto-approve"},
			want:    []string{"apply -input=false -auto-approve -var-file=", "Settings page:                 https://example.test/settings_url"},
			notWant: []string{"call:gcloud run services update"},
		},
		{
			name:    "required variable missing",
			tfvars:  strings.Replace(deployTFVars, `pipedrive_client_secret    = "pd-secret"`, `pipedrive_client_secret    = "..."`, 1),
			wantErr: true,
			want:    []string{"required variables are not set: pipedrive_client_secret"},
			notWant: []string{"tf:init"},
		},
		{
			name:    "no variables file",
			wantErr: true,
			want:    []string{"no variables file at", `README.md, "Deploy to Google Cloud", says where each value comes from`},
		},
		{
			name:    "terraform too old",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_TF_VERSION": "1.10.5"},
			wantErr: true,
			want:    []string{"is too old"},
		},
		{
			name:    "gcloud points at another project",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_PROJECT": "other-project"},
			wantErr: true,
			want:    []string{"gcloud's project (other-project) is not project_id (proj-123)"},
		},
		{
			name:    "redeploy after tear-down imports the key ring",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_KEY_RING": "yes", "FAKE_KEY_PRIMARY": "ENABLED"},
			args:    []string{"--auto-approve"},
			want:    []string{"plan -input=false -var-file=", "-var=kms_import_existing=true", "Found the KMS key ring contactsync-tokens"},
			notWant: []string{"call:gcloud kms keys versions create"},
		},
		{
			name:    "key ring already in the state is not imported",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_KEY_RING": "yes", "FAKE_KEY_PRIMARY": "ENABLED", "FAKE_TF_STATE": "google_kms_crypto_key.tokens\ngoogle_kms_key_ring.tokens"},
			args:    []string{"--auto-approve"},
			notWant: []string{"kms_import_existing"},
		},
		{
			name:   "key without an enabled primary gets one",
			tfvars: deployTFVars,
			env:    map[string]string{"FAKE_KEY_RING": "yes", "FAKE_KEY_PRIMARY": "DESTROYED"},
			args:   []string{"--auto-approve"},
			want:   []string{"call:gcloud kms keys versions create --key=tokens --keyring=contactsync-tokens --location=europe-west3 --project=proj-123 --primary"},
		},
		{
			name:    "plan only creates no key version",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_KEY_RING": "yes", "FAKE_KEY_PRIMARY": ""},
			args:    []string{"--plan-only"},
			want:    []string{"has no enabled primary version"},
			notWant: []string{"call:gcloud kms keys versions create"},
		},
		{
			name:    "someone else's (default) Firestore database stops the deploy",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_FIRESTORE": "FIRESTORE_NATIVE\teur3"},
			wantErr: true,
			want:    []string{"already has the Firestore database (default) (FIRESTORE_NATIVE in eur3)", "firestore_import_existing = true", `firestore_location        = "eur3"`, `firestore_database_id = "contactsync"`},
			notWant: []string{"tf:plan"},
		},
		{
			name:    "a Datastore-mode database leaves only a named one",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_FIRESTORE": "DATASTORE_MODE\tus-east1"},
			wantErr: true,
			want:    []string{"in DATASTORE_MODE mode, which contactsync cannot use", `firestore_database_id = "contactsync"`},
			notWant: []string{"firestore_import_existing = true"},
		},
		{
			name:   "an existing database the user chose to import",
			tfvars: deployTFVars + "firestore_import_existing = true\n",
			env:    map[string]string{"FAKE_FIRESTORE": "FIRESTORE_NATIVE\teur3"},
			args:   []string{"--auto-approve"},
			want:   []string{"apply -input=false -auto-approve"},
		},
		{
			name:   "a named database is looked up by its id",
			tfvars: deployTFVars + "firestore_database_id = \"contactsync\"\n",
			args:   []string{"--plan-only"},
			want:   []string{"call:gcloud firestore databases describe --database=contactsync --project=proj-123"},
		},
		{
			name:   "invoker check turned off after apply",
			tfvars: deployTFVars,
			env: map[string]string{"FAKE_TF_OUTPUT_invoker_iam_check_disabled_services": "projects/proj-123/locations/europe-west3/services/contactsync-settings\n" +
				"projects/proj-123/locations/europe-west3/services/contactsync-intake"},
			args: []string{"--auto-approve"},
			want: []string{
				"call:gcloud run services update contactsync-settings --region=europe-west3 --project=proj-123 --no-invoker-iam-check --quiet",
				"call:gcloud run services update contactsync-intake --region=europe-west3 --project=proj-123 --no-invoker-iam-check --quiet",
			},
		},
		{
			name:   "service account without Cloud Resource Manager in its project",
			tfvars: deployTFVars,
			env:    map[string]string{"FAKE_ACCOUNT": "deployer@ci-project.iam.gserviceaccount.com"},
			args:   []string{"--auto-approve"},
			want:   []string{"call:gcloud services enable cloudresourcemanager.googleapis.com --project=ci-project"},
		},
		{
			name:    "service account, plan only: says what to enable",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_ACCOUNT": "deployer@ci-project.iam.gserviceaccount.com"},
			args:    []string{"--plan-only"},
			wantErr: true,
			want:    []string{"Run: gcloud services enable cloudresourcemanager.googleapis.com --project=ci-project"},
			notWant: []string{"call:gcloud services enable"},
		},
		{
			name:    "service account whose project has the API",
			tfvars:  deployTFVars,
			env:     map[string]string{"FAKE_ACCOUNT": "deployer@ci-project.iam.gserviceaccount.com", "FAKE_ENABLED_SERVICES": "cloudresourcemanager.googleapis.com"},
			args:    []string{"--plan-only"},
			want:    []string{"call:gcloud services list --enabled --project=ci-project"},
			notWant: []string{"call:gcloud services enable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDeploy(t, tt.tfvars, tt.env, tt.args...)
			if (r.err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v\n%s", r.err, tt.wantErr, r.out)
			}
			has := func(s string) bool {
				if c, ok := strings.CutPrefix(s, "call:"); ok {
					return r.ran(c)
				}
				if verb, ok := strings.CutPrefix(s, "tf:"); ok {
					return r.tf(verb) != ""
				}
				return strings.Contains(r.out, s) || slices.ContainsFunc(r.calls, func(c string) bool { return strings.Contains(c, s) })
			}
			for _, w := range tt.want {
				if !has(w) {
					t.Errorf("no %q\noutput:\n%s\ncalls:\n  %s", w, r.out, strings.Join(r.calls, "\n  "))
				}
			}
			for _, w := range tt.notWant {
				if has(w) {
					t.Errorf("unexpected %q\noutput:\n%s\ncalls:\n  %s", w, r.out, strings.Join(r.calls, "\n  "))
				}
			}
		})
	}
}

// TestDeployPlanIsTheApply checks that the plan and the apply get the same
// variables (here: the variables file and the KMS import).
func TestDeployPlanIsTheApply(t *testing.T) {
	r := runDeploy(t, deployTFVars, map[string]string{"FAKE_KEY_RING": "yes", "FAKE_KEY_PRIMARY": "ENABLED"}, "--auto-approve")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	vars := func(call string) []string {
		var out []string
		for _, f := range strings.Fields(call) {
			if strings.HasPrefix(f, "-var") {
				out = append(out, f)
			}
		}
		return out
	}
	plan, apply := vars(r.tf("plan")), vars(r.tf("apply"))
	if len(plan) != 2 || !slices.Equal(plan, apply) {
		t.Errorf("plan gets %v, apply gets %v; want the same variables file and kms_import_existing", plan, apply)
	}
}

// bash4Only are constructs that bash 3.2 (macOS) does not have.
var bash4Only = []*regexp.Regexp{
	regexp.MustCompile(`\b(declare|local|typeset)\s+-[a-zA-Z]*[An]`), // associative arrays, namerefs
	regexp.MustCompile(`\b(mapfile|readarray|coproc)\b`),
	regexp.MustCompile(`\$\{[^}]*(,,|\^\^|@[QEPAa])\}`), // case modification, transformations
	regexp.MustCompile(`&>>|\|&`),
}

// TestDeployBash32Constructs fails on constructs that break scripts/deploy
// on bash 3.2: bash-4-only syntax, and an array that may be empty (it was
// assigned "()") expanded other than as ${a[@]+"${a[@]}"} under set -u.
func TestDeployBash32Constructs(t *testing.T) {
	src, err := os.ReadFile("../scripts/deploy")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range bash32Problems(string(src)) {
		t.Error(p)
	}
	// The checker itself must bite.
	for name, bad := range map[string]string{
		"empty array":       "set -u\nargs=()\nterraform plan \"${args[@]}\"\n",
		"empty array star":  "args=()\necho ${args[*]}\n",
		"associative array": "declare -A seen\n",
		"mapfile":           "mapfile -t lines <f\n",
		"lowercase":         "echo \"${name,,}\"\n",
	} {
		if len(bash32Problems(bad)) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
	if p := bash32Problems("args=()\nterraform plan ${args[@]+\"${args[@]}\"}\nn=${#args[@]}\n"); len(p) > 0 {
		t.Errorf("the guarded form is reported: %v", p)
	}
}

func bash32Problems(src string) []string {
	var problems []string
	for i, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, re := range bash4Only {
			if re.MatchString(line) {
				problems = append(problems, fmt.Sprintf("line %d: bash 4 only: %s", i+1, strings.TrimSpace(line)))
			}
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)=\(\)`).FindAllStringSubmatch(src, -1) {
		name := m[1]
		guarded := `${` + name + `[@]+"${` + name + `[@]}"}`
		rest := strings.ReplaceAll(src, guarded, "")
		if regexp.MustCompile(`\$\{` + name + `\[[@*]\]`).MatchString(rest) {
			problems = append(problems, "array "+name+" may be empty: expand it as "+guarded+" (bash 3.2 under set -u)")
		}
	}
	return problems
}

// TestDeployDefaultsMatchVariables checks that the defaults scripts/deploy
// assumes for unset variables (tfvar NAME DEFAULT) are those of
// variables.tf, so that it looks for the right key ring and database.
func TestDeployDefaultsMatchVariables(t *testing.T) {
	src, err := os.ReadFile("../scripts/deploy")
	if err != nil {
		t.Fatal(err)
	}
	files, err := readTF(".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseModule(files)
	if err != nil {
		t.Fatal(err)
	}
	uses := regexp.MustCompile(`\$\(tfvar (\w+) ("[^"]*"|\S+)\)`).FindAllStringSubmatch(string(src), -1)
	if len(uses) < 3 {
		t.Fatalf("found %d uses of tfvar with a default, want at least name_prefix, region and firestore_database_id", len(uses))
	}
	for _, u := range uses {
		name, def := u[1], strings.Trim(u[2], `"`)
		body, ok := m.Variables[name]
		if !ok {
			t.Errorf("scripts/deploy reads variable %s, which variables.tf does not declare", name)
			continue
		}
		a, ok := body.Attributes["default"]
		if !ok {
			t.Errorf("variable %s has no default, but scripts/deploy assumes %q", name, def)
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if got := asString(v); got != def {
			t.Errorf("scripts/deploy assumes %s = %q when unset, but its default is %q", name, def, got)
		}
	}
}
