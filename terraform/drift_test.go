package terraform_test

// The drift test: the Terraform in this directory must deploy what the code
// expects. It fails when
//
//	(a) a function registered in code (functions.HTTP / functions.CloudEvent
//	    under ../functions) has no google_cloudfunctions2_function with that
//	    entry point, or the other way round;
//	(b) a function lacks an environment variable its config struct requires
//	    (config.All, config.Vars), or sets one the code does not read, or a
//	    secret arrives as a plain variable;
//	(c) topics, dead-letter topics, their hold subscriptions and the push
//	    subscriptions differ from shared/queue (names, push endpoints, ordering,
//	    dead-letter and retry settings);
//	(d) any principal holds a role outside allowedGrants below;
//	(e) Poll or Apply can be invoked by allUsers / allAuthenticatedUsers, or
//	    Settings and Intake cannot be invoked publicly (allUsers, or with
//	    disable_invoker_iam_check their invoker check turned off, and then
//	    no allUsers grant, which domain-restricted sharing refuses);
//	(f) a function's runtime is not go126, or the source zip's object name
//	    does not carry the zip's hash;
//	(g) a provider is not pinned (versions.tf) or allows versions below its
//	    minimum (archive >= 2.5.0 for glob excludes);
//	(h) secrets are not replicated exactly in the region and the extra
//	    replica regions (automatic replication means "global");
//	(i) a function does not wait for a time_sleep of at least 60 s after the
//	    build account's and its own secret grants (fresh projects);
//
// plus the other requirements of issue 7 that can be checked offline
// (Firestore TTL, KMS prevent_destroy, the scheduler's /tick call, outputs)
// and the deployment cases of issue 15 (deploycases_test.go).
//
// Run: go test ./terraform/

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/queue"
)

const (
	testProject = "drift-project"
	testRegion  = "europe-west1"
	goRuntime   = "go126"
	ffImport    = "github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

// testVars are the values given to the variables without defaults.
func testVars() map[string]cty.Value {
	return map[string]cty.Value{
		"project_id":                 cty.StringVal(testProject),
		"region":                     cty.StringVal(testRegion),
		"google_oauth_client_id":     cty.StringVal("123-test.apps.googleusercontent.com"),
		"google_oauth_client_secret": cty.StringVal("google-secret"),
		"pipedrive_client_id":        cty.StringVal("pd-client"),
		"pipedrive_client_secret":    cty.StringVal("pd-secret"),
	}
}

// secretVars must come from Secret Manager, never as plain variables.
var secretVars = map[string]bool{
	"GOOGLE_CLIENT_SECRET":    true,
	"PIPEDRIVE_CLIENT_SECRET": true,
	"SESSION_KEY":             true,
	"TOKEN_KEY":               true,
}

// requiredAPIs must be enabled by google_project_service.
var requiredAPIs = []string{
	"artifactregistry.googleapis.com",
	"cloudbuild.googleapis.com",
	"cloudfunctions.googleapis.com",
	"cloudkms.googleapis.com",
	"cloudresourcemanager.googleapis.com",
	"cloudscheduler.googleapis.com",
	"firestore.googleapis.com",
	"people.googleapis.com",
	"pubsub.googleapis.com",
	"run.googleapis.com",
	"secretmanager.googleapis.com",
}

// grant is one IAM grant: who holds role on what. Principals: runtime:<Fn>
// (a function's own service account), build, scheduler, pubsub-push,
// pubsub-agent (the Pub/Sub service agent) and allUsers. Targets: project,
// function:<Fn>, topic:<id>, subscription:<id>, secret:<ENV_VAR it feeds>,
// kms:<key name>, source-bucket, serviceaccount:<principal>.
type grant struct{ Who, Role, On string }

func (g grant) String() string { return fmt.Sprintf("%s holds %s on %s", g.Who, g.Role, g.On) }

// allowedGrants is the allow-list: every IAM grant in the configuration must
// be one of these. Adding a role to a function means adding it here, in
// review.
func allowedGrants() map[grant]bool {
	const (
		datastoreUser   = "roles/datastore.user"
		datastoreViewer = "roles/datastore.viewer"
		kmsUser         = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
		secretAccessor  = "roles/secretmanager.secretAccessor"
		publisher       = "roles/pubsub.publisher"
		subscriber      = "roles/pubsub.subscriber"
		invoker         = "roles/run.invoker"
	)
	list := []grant{
		{"runtime:Settings", datastoreUser, "project"},
		{"runtime:Settings", kmsUser, "kms:tokens"},
		{"runtime:Settings", secretAccessor, "secret:GOOGLE_CLIENT_SECRET"},
		{"runtime:Settings", secretAccessor, "secret:PIPEDRIVE_CLIENT_SECRET"},
		{"runtime:Settings", secretAccessor, "secret:SESSION_KEY"},
		{"runtime:Settings", publisher, "topic:" + queue.FirstSyncTopic},

		{"runtime:Intake", datastoreViewer, "project"},
		{"runtime:Intake", publisher, "topic:" + queue.ChangesTopic},

		{"runtime:Poll", datastoreUser, "project"},
		{"runtime:Poll", kmsUser, "kms:tokens"},
		{"runtime:Poll", secretAccessor, "secret:GOOGLE_CLIENT_SECRET"},
		{"runtime:Poll", secretAccessor, "secret:PIPEDRIVE_CLIENT_SECRET"},
		{"runtime:Poll", publisher, "topic:" + queue.PollsTopic},
		{"runtime:Poll", publisher, "topic:" + queue.ChangesTopic},
		{"runtime:Poll", publisher, "topic:" + queue.FirstSyncTopic},
		{"runtime:Poll", subscriber, "subscription:" + queue.ChangesTopic + queue.DeadLetterSuffix + "-hold"},

		{"runtime:Apply", datastoreUser, "project"},
		{"runtime:Apply", kmsUser, "kms:tokens"},
		{"runtime:Apply", secretAccessor, "secret:GOOGLE_CLIENT_SECRET"},
		{"runtime:Apply", secretAccessor, "secret:PIPEDRIVE_CLIENT_SECRET"},
		{"runtime:Apply", publisher, "topic:" + queue.FirstSyncTopic},
		{"runtime:Apply", publisher, "topic:" + queue.ChangesTopic},

		{"build", "roles/run.builder", "project"},
		{"build", "roles/storage.objectViewer", "source-bucket"},

		{"scheduler", invoker, "function:Poll"},
		{"pubsub-push", invoker, "function:Poll"},
		{"pubsub-push", invoker, "function:Apply"},

		{"pubsub-agent", "roles/iam.serviceAccountTokenCreator", "serviceaccount:pubsub-push"},

		{"allUsers", invoker, "function:Settings"},
		{"allUsers", invoker, "function:Intake"},
	}
	for _, t := range []string{queue.ChangesTopic, queue.PollsTopic, queue.FirstSyncTopic} {
		list = append(list, grant{"pubsub-agent", publisher, "topic:" + t + queue.DeadLetterSuffix})
	}
	for _, s := range queue.Subscriptions(testProject) {
		list = append(list, grant{"pubsub-agent", subscriber, "subscription:" + s.Name})
	}
	out := map[grant]bool{}
	for _, g := range list {
		out[g] = true
	}
	return out
}

// privateFunctions must not be publicly invokable; publicFunctions must be.
var (
	privateFunctions = []string{"Poll", "Apply"}
	publicFunctions  = []string{"Settings", "Intake"}
)

// codeModel is what the code expects of the infrastructure.
type codeModel struct {
	Functions     map[string]string       // registered name → "HTTP", "CloudEvent" or "Typed"
	Vars          map[string][]config.Var // function name → the variables its config reads
	Topics        []string                // topic ids the code publishes to
	Subscriptions []queue.Subscription
	TTL           map[string]string // collection group → TTL field
}

// codeFromRepo reads the code model from the repository: the registered
// functions from ../functions, the rest from the config and queue packages.
func codeFromRepo(t *testing.T) codeModel {
	t.Helper()
	fns, err := registeredFunctions("../functions")
	if err != nil {
		t.Fatalf("reading registered functions: %v", err)
	}
	ttl, err := ttlFields("../shared/store/store.go")
	if err != nil {
		t.Fatalf("reading the TTL fields: %v", err)
	}
	return codeModel{
		Functions:     fns,
		Vars:          configVars(),
		Topics:        []string{queue.ChangesTopic, queue.PollsTopic, queue.FirstSyncTopic},
		Subscriptions: queue.Subscriptions(testProject),
		TTL:           ttl,
	}
}

// ttlLine matches a line of the store package's layout comment that marks a
// TTL field, e.g. "//	oauth_states/{state}   OAuthState (TTL expire_at)".
var ttlLine = regexp.MustCompile(`^//\s+(\S+)\s+.*\bTTL (\w+)\)`)

// ttlFields reads the collection groups with a TTL field from the layout
// comment of shared/store/store.go. OAuth states always have one (SPEC 5).
func ttlFields(file string) (map[string]string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]string{"oauth_states": "expire_at"}
	for _, line := range strings.Split(string(src), "\n") {
		m := ttlLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		segs := strings.Split(m[1], "/")
		for i := len(segs) - 1; i >= 0; i-- {
			if !strings.HasPrefix(segs[i], "{") {
				out[segs[i]] = m[2]
				break
			}
		}
	}
	return out, nil
}

func configVars() map[string][]config.Var {
	out := map[string][]config.Var{}
	for name, cfg := range config.All() {
		out[name] = config.Vars(cfg)
	}
	return out
}

// registeredFunctions finds the functions.HTTP("Name", ...),
// functions.CloudEvent("Name", ...) and functions.Typed("Name", ...) calls in
// the non-test Go files under dir. The name may be a string literal or a
// string constant of the same package.
func registeredFunctions(dir string) (map[string]string, error) {
	byDir := map[string][]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != dir && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		byDir[filepath.Dir(p)] = append(byDir[filepath.Dir(p)], f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var errs []error
	for _, d := range sortedKeys(byDir) {
		files := byDir[d]
		consts := map[string]string{}
		for _, f := range files {
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if s, ok := stringLit(vs.Values[i]); ok {
								consts[n.Name] = s
							}
						}
					}
				}
			}
		}
		for _, f := range files {
			local := ""
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == ffImport {
					local = path.Base(ffImport)
					if imp.Name != nil {
						local = imp.Name.Name
					}
				}
			}
			if local == "" || local == "_" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				if !ok || x.Name != local {
					return true
				}
				kind := sel.Sel.Name
				if kind != "HTTP" && kind != "CloudEvent" && kind != "Typed" {
					return true
				}
				pos := fset.Position(call.Pos())
				if len(call.Args) == 0 {
					errs = append(errs, fmt.Errorf("%s: %s.%s without a name", pos, local, kind))
					return true
				}
				name, ok := stringLit(call.Args[0])
				if !ok {
					if id, isID := call.Args[0].(*ast.Ident); isID {
						name, ok = consts[id.Name]
					}
				}
				if !ok {
					errs = append(errs, fmt.Errorf("%s: the function name is not a string literal or constant", pos))
					return true
				}
				if prev, dup := out[name]; dup {
					errs = append(errs, fmt.Errorf("%s: function %q registered twice (also as %s)", pos, name, prev))
					return true
				}
				out[name] = kind
				return true
			})
		}
	}
	return out, errors.Join(errs...)
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// loadConfig parses and evaluates the given .tf files with testVars.
func loadConfig(files map[string][]byte) (*evaluated, error) {
	m, err := parseModule(files)
	if err != nil {
		return nil, err
	}
	return evaluate(m, testVars(), "project_id", "region")
}

// drift collects the problems found comparing infra with code.
type drift struct {
	ev       *evaluated
	code     codeModel
	problems []string

	fnByEntry   map[string]*instance // entry point → function
	fnByService map[string]string    // Cloud Run service name → entry point
	principal   map[string]string    // service-account email → principal
	secretEnv   map[string][]string  // secret id → env vars it feeds
}

func (d *drift) addf(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// checkDrift returns every problem found, sorted.
func checkDrift(ev *evaluated, code codeModel) []string {
	d := &drift{
		ev: ev, code: code,
		fnByEntry:   map[string]*instance{},
		fnByService: map[string]string{},
		principal:   map[string]string{},
		secretEnv:   map[string][]string{},
	}
	d.checkFunctions()
	d.indexPrincipals()
	d.checkEnv()
	d.checkPubSub()
	d.checkIAM()
	d.checkInvokers()
	d.checkSource()
	d.checkRest()
	d.checkVersions()
	d.checkSecretReplication()
	d.checkIAMWait()
	d.checkImports()
	sort.Strings(d.problems)
	return slices.Compact(d.problems)
}

// (a) functions in code ↔ function resources; (f) runtime.
func (d *drift) checkFunctions() {
	if len(d.code.Functions) == 0 {
		d.addf("no function is registered in code (no functions.HTTP/CloudEvent call under functions/): nothing to compare the Terraform with")
	}
	for _, fn := range d.ev.ofType("google_cloudfunctions2_function") {
		entry := str(fn.Val, "build_config", 0, "entry_point")
		if entry == "" {
			d.addf("%s: build_config.entry_point is not set", fn)
			continue
		}
		if prev, dup := d.fnByEntry[entry]; dup {
			d.addf("%s and %s both deploy entry point %q", prev, fn, entry)
		}
		d.fnByEntry[entry] = fn
		d.fnByService[str(fn.Val, "service_config", 0, "service")] = entry
		if _, ok := d.code.Functions[entry]; !ok {
			d.addf("%s deploys entry point %q, which no functions.HTTP/CloudEvent call registers", fn, entry)
		}
		if rt := str(fn.Val, "build_config", 0, "runtime"); rt != goRuntime {
			d.addf("%s: runtime is %q, want %q", fn, rt, goRuntime)
		}
		if len(list(at(fn.Val, "event_trigger"))) > 0 {
			d.addf("%s has an event_trigger (Eventarc); functions are fed by our own push subscriptions", fn)
		}
	}
	for _, name := range sortedKeys(d.code.Functions) {
		if _, ok := d.fnByEntry[name]; !ok {
			d.addf("function %q is registered in code but no google_cloudfunctions2_function has entry_point %q", name, name)
		}
		if _, ok := d.code.Vars[name]; !ok {
			d.addf("function %q is registered in code but config.All() has no config for it", name)
		}
	}
}

// indexPrincipals names the service accounts by what they are used for, and
// requires each function to have its own.
func (d *drift) indexPrincipals() {
	use := func(email, who, where string) {
		if email == "" {
			d.addf("%s: no service account set (the default one has far too many roles)", where)
			return
		}
		if prev, ok := d.principal[email]; ok && prev != who {
			d.addf("service account %s is used both as %s and as %s; each needs its own", email, prev, who)
			return
		}
		d.principal[email] = who
	}
	for _, entry := range sortedKeys(d.fnByEntry) {
		fn := d.fnByEntry[entry]
		use(str(fn.Val, "service_config", 0, "service_account_email"), "runtime:"+entry, fn.String()+" service_config")
		use(path.Base(str(fn.Val, "build_config", 0, "service_account")), "build", fn.String()+" build_config")
	}
	for _, job := range d.ev.ofType("google_cloud_scheduler_job") {
		use(str(job.Val, "http_target", 0, "oidc_token", 0, "service_account_email"), "scheduler", job.String()+" oidc_token")
	}
	for _, sub := range d.ev.ofType("google_pubsub_subscription") {
		if len(list(at(sub.Val, "push_config"))) > 0 {
			use(str(sub.Val, "push_config", 0, "oidc_token", 0, "service_account_email"), "pubsub-push", sub.String()+" push_config.oidc_token")
		}
	}
}

// memberPrincipal maps an IAM member to a principal name.
func (d *drift) memberPrincipal(member string) string {
	switch {
	case member == "allUsers" || member == "allAuthenticatedUsers":
		return member
	case strings.HasPrefix(member, "serviceAccount:service-") && strings.HasSuffix(member, "@gcp-sa-pubsub.iam.gserviceaccount.com"):
		return "pubsub-agent"
	case strings.HasPrefix(member, "serviceAccount:"):
		if p, ok := d.principal[strings.TrimPrefix(member, "serviceAccount:")]; ok {
			return p
		}
	}
	return "unknown(" + member + ")"
}

// (b) environment variables.
func (d *drift) checkEnv() {
	dbName := ""
	for _, db := range d.ev.ofType("google_firestore_database") {
		dbName = str(db.Val, "name")
	}
	keyIDs := map[string]bool{}
	for _, k := range d.ev.ofType("google_kms_crypto_key") {
		keyIDs[str(k.Val, "id")] = true
	}
	for _, entry := range sortedKeys(d.fnByEntry) {
		fn := d.fnByEntry[entry]
		vars, ok := d.code.Vars[entry]
		if !ok {
			continue // reported by checkFunctions
		}
		known := map[string]config.Var{}
		for _, v := range vars {
			known[v.Name] = v
		}
		plain := stringMap(at(fn.Val, "service_config", 0, "environment_variables"))
		set := map[string]bool{}
		for name, val := range plain {
			set[name] = true
			if secretVars[name] {
				d.addf("%s sets %s as a plain environment variable; it must come from Secret Manager", fn, name)
			}
			v, ok := known[name]
			if !ok {
				d.addf("%s sets %s, which config.%s does not read", fn, name, entry)
				continue
			}
			switch {
			case name == "GOOGLE_CLOUD_PROJECT" && val != testProject:
				d.addf("%s: GOOGLE_CLOUD_PROJECT is %q, want the project %q", fn, val, testProject)
			case name == "FIRESTORE_DATABASE" && val != dbName:
				d.addf("%s: FIRESTORE_DATABASE is %q, but the Firestore database is %q", fn, val, dbName)
			case name == "KMS_KEY" && !keyIDs[val]:
				d.addf("%s: KMS_KEY is %q, which is no google_kms_crypto_key's id", fn, val)
			case strings.HasSuffix(name, "_TOPIC") && val != v.Default:
				d.addf("%s: %s is %q but the code's topic is %q", fn, name, val, v.Default)
			}
		}
		for _, sev := range list(at(fn.Val, "service_config", 0, "secret_environment_variables")) {
			name := str(sev, "key")
			if set[name] {
				d.addf("%s sets %s twice", fn, name)
			}
			set[name] = true
			if _, ok := known[name]; !ok {
				d.addf("%s sets secret %s, which config.%s does not read", fn, name, entry)
			}
			if ver := str(sev, "version"); ver == "" || ver == "latest" {
				d.addf("%s: secret %s must be pinned to a numeric version, not %q", fn, name, ver)
			}
			id := str(sev, "secret")
			d.secretEnv[id] = append(d.secretEnv[id], name)
		}
		for _, v := range vars {
			if v.Required && !set[v.Name] {
				d.addf("%s does not set %s, which config.%s requires", fn, v.Name, entry)
			}
		}
		if _, ok := known["KMS_KEY"]; ok && !set["KMS_KEY"] {
			d.addf("%s does not set KMS_KEY: production seals tokens with Cloud KMS", fn)
		}
		if set["TOKEN_KEY"] {
			d.addf("%s sets TOKEN_KEY, the sandbox's local key; production uses KMS_KEY", fn)
		}
		if len(stringMap(at(fn.Val, "build_config", 0, "environment_variables"))) > 0 {
			d.addf("%s sets build-time environment variables; the code reads none", fn)
		}
	}
	for id, names := range d.secretEnv {
		if slices.Sort(names); len(slices.Compact(names)) > 1 {
			d.addf("secret %s feeds different variables %v", id, names)
		}
	}
}

// (c) topics and subscriptions.
func (d *drift) checkPubSub() {
	wantTopics := map[string]bool{}
	for _, t := range d.code.Topics {
		wantTopics[t] = true
		wantTopics[t+queue.DeadLetterSuffix] = true
	}
	gotTopics := map[string]bool{}
	for _, t := range d.ev.ofType("google_pubsub_topic") {
		name := str(t.Val, "name")
		gotTopics[name] = true
		if !wantTopics[name] {
			d.addf("%s creates topic %q, which the code does not use", t, name)
		}
	}
	for _, name := range sortedKeys(wantTopics) {
		if !gotTopics[name] {
			d.addf("topic %q is used by the code but not created", name)
		}
	}

	subs := map[string]*instance{}
	for _, s := range d.ev.ofType("google_pubsub_subscription") {
		subs[str(s.Val, "name")] = s
		if len(list(at(s.Val, "expiration_policy"))) == 0 || str(s.Val, "expiration_policy", 0, "ttl") != "" {
			d.addf("%s may expire when idle (set expiration_policy { ttl = \"\" }): its messages would be lost", s)
		}
	}
	for _, t := range d.code.Topics {
		name := t + queue.DeadLetterSuffix + "-hold"
		s, ok := subs[name]
		switch {
		case !ok:
			d.addf("dead-letter hold subscription %q is missing: dead letters of %q would be dropped", name, t)
		case path.Base(str(s.Val, "topic")) != t+queue.DeadLetterSuffix:
			d.addf("%s reads %q, want the dead-letter topic %q", s, path.Base(str(s.Val, "topic")), t+queue.DeadLetterSuffix)
		case len(list(at(s.Val, "push_config"))) > 0:
			d.addf("%s must be a pull subscription that keeps dead letters, not a push one", s)
		}
	}

	want := map[string]queue.Subscription{}
	for _, s := range d.code.Subscriptions {
		want[s.Name] = s
	}
	for _, name := range sortedKeys(subs) {
		s := subs[name]
		if len(list(at(s.Val, "push_config"))) == 0 {
			if !strings.HasSuffix(name, queue.DeadLetterSuffix+"-hold") {
				d.addf("%s is a pull subscription the code does not know", s)
			}
			continue
		}
		w, ok := want[name]
		if !ok {
			d.addf("%s pushes, but queue.Subscriptions has no subscription %q", s, name)
			continue
		}
		if got := path.Base(str(s.Val, "topic")); got != w.Topic {
			d.addf("%s reads topic %q, want %q", s, got, w.Topic)
		}
		target, ok := d.fnByEntry[w.Function]
		if !ok {
			d.addf("%s: its function %q is not deployed", s, w.Function)
		} else {
			uri := str(target.Val, "service_config", 0, "uri")
			if got := str(s.Val, "push_config", 0, "push_endpoint"); got != uri+w.PushPath {
				d.addf("%s: push endpoint %q, want %s's URL + %q", s, got, w.Function, w.PushPath)
			}
			if aud := str(s.Val, "push_config", 0, "oidc_token", 0, "audience"); aud != "" && aud != uri {
				d.addf("%s: OIDC audience %q, want %s's URL", s, aud, w.Function)
			}
		}
		if got := at(s.Val, "enable_message_ordering"); (got != cty.NilVal && !got.IsNull() && got.True()) != w.Ordered {
			d.addf("%s: enable_message_ordering is %v, want %v", s, !w.Ordered, w.Ordered)
		}
		if got := path.Base(str(s.Val, "dead_letter_policy", 0, "dead_letter_topic")); got != w.DeadLetterTopic {
			d.addf("%s: dead-letter topic %q, want %q", s, got, w.DeadLetterTopic)
		}
		intEq := func(what, got string, want int) {
			if got != strconv.Itoa(want) {
				d.addf("%s: %s is %q, want %d", s, what, got, want)
			}
		}
		intEq("max_delivery_attempts", str(s.Val, "dead_letter_policy", 0, "max_delivery_attempts"), w.MaxDeliveryAttempts)
		intEq("ack_deadline_seconds", str(s.Val, "ack_deadline_seconds"), w.AckDeadlineSeconds)
		if got := str(s.Val, "retry_policy", 0, "minimum_backoff"); got != fmt.Sprintf("%ds", w.MinBackoffSeconds) {
			d.addf("%s: retry_policy.minimum_backoff %q, want %ds", s, got, w.MinBackoffSeconds)
		}
		if got := str(s.Val, "retry_policy", 0, "maximum_backoff"); got != fmt.Sprintf("%ds", w.MaxBackoffSeconds) {
			d.addf("%s: retry_policy.maximum_backoff %q, want %ds", s, got, w.MaxBackoffSeconds)
		}
	}
	for _, name := range sortedKeys(want) {
		if _, ok := subs[name]; !ok {
			d.addf("push subscription %q (queue.Subscriptions) is not created", name)
		}
	}
}

// iamTypes are the IAM member resources and how to name their target.
var iamTypes = map[string]func(d *drift, v cty.Value) string{
	"google_project_iam_member": func(d *drift, v cty.Value) string {
		if p := str(v, "project"); p != testProject {
			return "project:" + p
		}
		return "project"
	},
	"google_cloud_run_v2_service_iam_member": func(d *drift, v cty.Value) string {
		if fn, ok := d.fnByService[str(v, "name")]; ok {
			return "function:" + fn
		}
		return "service:" + str(v, "name")
	},
	"google_pubsub_topic_iam_member": func(d *drift, v cty.Value) string {
		return "topic:" + path.Base(str(v, "topic"))
	},
	"google_pubsub_subscription_iam_member": func(d *drift, v cty.Value) string {
		return "subscription:" + path.Base(str(v, "subscription"))
	},
	"google_secret_manager_secret_iam_member": func(d *drift, v cty.Value) string {
		id := path.Base(str(v, "secret_id"))
		if names := d.secretEnv[id]; len(names) > 0 {
			return "secret:" + names[0]
		}
		return "secret-not-used-by-any-function:" + id
	},
	"google_kms_crypto_key_iam_member": func(d *drift, v cty.Value) string {
		return "kms:" + path.Base(str(v, "crypto_key_id"))
	},
	"google_storage_bucket_iam_member": func(d *drift, v cty.Value) string {
		for _, fn := range d.fnByEntry {
			if str(fn.Val, "build_config", 0, "source", 0, "storage_source", 0, "bucket") == str(v, "bucket") {
				return "source-bucket"
			}
		}
		return "bucket:" + str(v, "bucket")
	},
	"google_service_account_iam_member": func(d *drift, v cty.Value) string {
		email := path.Base(str(v, "service_account_id"))
		if p, ok := d.principal[email]; ok {
			return "serviceaccount:" + p
		}
		return "serviceaccount:" + email
	},
}

// grants returns every IAM grant in the configuration.
func (d *drift) grants() []grant {
	var out []grant
	for _, inst := range d.ev.Instances {
		typ := inst.Block.Type
		if inst.Block.Mode != "resource" || !strings.HasPrefix(typ, "google_") {
			continue
		}
		if strings.HasSuffix(typ, "_iam_binding") || strings.HasSuffix(typ, "_iam_policy") {
			d.addf("%s: use *_iam_member resources (bindings and policies are authoritative and hard to review)", inst)
			continue
		}
		if !strings.HasSuffix(typ, "_iam_member") {
			continue
		}
		target, ok := iamTypes[typ]
		if !ok {
			d.addf("%s: the drift test does not know this IAM resource type; add it to iamTypes", inst)
			continue
		}
		out = append(out, grant{
			Who:  d.memberPrincipal(str(inst.Val, "member")),
			Role: str(inst.Val, "role"),
			On:   target(d, inst.Val),
		})
	}
	return out
}

// (d) the allow-list, and the grants the system cannot work without.
func (d *drift) checkIAM() {
	allowed := allowedGrants()
	have := map[grant]bool{}
	for _, g := range d.grants() {
		have[g] = true
		if !allowed[g] {
			d.addf("%s, which is not in the drift test's allow-list", g)
		}
	}
	need := func(g grant, why string) {
		if !have[g] {
			d.addf("missing grant: %s (%s)", g, why)
		}
	}
	for _, entry := range sortedKeys(d.fnByEntry) {
		fn := d.fnByEntry[entry]
		for _, sev := range list(at(fn.Val, "service_config", 0, "secret_environment_variables")) {
			need(grant{"runtime:" + entry, "roles/secretmanager.secretAccessor", "secret:" + str(sev, "key")}, "it reads the secret at start")
		}
		if _, ok := stringMap(at(fn.Val, "service_config", 0, "environment_variables"))["KMS_KEY"]; ok {
			need(grant{"runtime:" + entry, "roles/cloudkms.cryptoKeyEncrypterDecrypter", "kms:tokens"}, "it seals tokens with KMS_KEY")
		}
	}
	for _, s := range d.code.Subscriptions {
		need(grant{"pubsub-push", "roles/run.invoker", "function:" + s.Function}, "push subscription "+s.Name+" calls it")
		need(grant{"pubsub-agent", "roles/pubsub.subscriber", "subscription:" + s.Name}, "dead lettering acknowledges there")
		need(grant{"pubsub-agent", "roles/pubsub.publisher", "topic:" + s.DeadLetterTopic}, "dead lettering publishes there")
	}
}

// (e) who may invoke the functions.
func (d *drift) checkInvokers() {
	for _, g := range d.grants() {
		fn, ok := strings.CutPrefix(g.On, "function:")
		if !ok || (g.Who != "allUsers" && g.Who != "allAuthenticatedUsers") {
			continue
		}
		if slices.Contains(privateFunctions, fn) {
			d.addf("%s is publicly invokable (%s holds %s); only its Scheduler/Pub/Sub callers may be", fn, g.Who, g.Role)
		}
	}
	public := map[string]bool{}
	for _, g := range d.grants() {
		if g.Who == "allUsers" && g.Role == "roles/run.invoker" {
			public[strings.TrimPrefix(g.On, "function:")] = true
		}
	}
	// The services whose invoker IAM check scripts/deploy turns off.
	checkOff := map[string]bool{}
	out, ok := d.ev.Outputs[invokerCheckOutput]
	if !ok {
		d.addf("output %q is missing: with disable_invoker_iam_check nothing would say which services to open", invokerCheckOutput)
	}
	for _, svc := range strings.Split(asString(out), "\n") {
		if svc == "" {
			continue
		}
		fn, ok := d.fnByService[svc]
		if !ok {
			d.addf("output %s names %q, which is no function's Cloud Run service", invokerCheckOutput, svc)
			continue
		}
		checkOff[fn] = true
		if slices.Contains(privateFunctions, fn) {
			d.addf("%s is publicly invokable (output %s turns its invoker IAM check off); only its Scheduler/Pub/Sub callers may be", fn, invokerCheckOutput)
		}
	}
	disabled, ok := d.ev.Vars["disable_invoker_iam_check"]
	if !ok {
		d.addf("variable disable_invoker_iam_check is missing: organisations with domain-restricted sharing cannot grant allUsers")
		return
	}
	for _, fn := range publicFunctions {
		if _, deployed := d.fnByEntry[fn]; !deployed {
			continue
		}
		switch {
		case disabled.True() && public[fn]:
			d.addf("%s: allUsers holds roles/run.invoker although disable_invoker_iam_check is true; domain-restricted sharing refuses that grant", fn)
		case disabled.True() && !checkOff[fn]:
			d.addf("%s is not publicly invokable: disable_invoker_iam_check is true but output %s does not name its service", fn, invokerCheckOutput)
		case !disabled.True() && !public[fn]:
			d.addf("%s is not publicly invokable (allUsers roles/run.invoker); browsers and Pipedrive call it", fn)
		case !disabled.True() && checkOff[fn]:
			d.addf("%s: output %s names it although disable_invoker_iam_check is false", fn, invokerCheckOutput)
		}
	}
}

// invokerCheckOutput lists, one per line, the Cloud Run services whose
// invoker IAM check is turned off (disable_invoker_iam_check).
const invokerCheckOutput = "invoker_iam_check_disabled_services"

// checkSecretReplication requires user-managed replication in the region
// and in each of secret_replica_regions, and nowhere else: automatic
// replication stores secrets in "global", which resource-location
// organisation policies refuse.
func (d *drift) checkSecretReplication() {
	want := []string{d.ev.Region}
	for _, r := range list(d.ev.Vars["secret_replica_regions"]) {
		want = append(want, asString(r))
	}
	slices.Sort(want)
	want = slices.Compact(want)
	for _, sec := range d.ev.ofType("google_secret_manager_secret") {
		if len(list(at(sec.Val, "replication", 0, "auto"))) > 0 {
			d.addf("%s uses automatic replication (location global), which resource-location policies refuse; use user_managed replicas in the region", sec)
			continue
		}
		var got []string
		for _, r := range list(at(sec.Val, "replication", 0, "user_managed", 0, "replicas")) {
			got = append(got, str(r, "location"))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			d.addf("%s is replicated to %v, want %v (region and secret_replica_regions)", sec, got, want)
		}
	}
}

// checkImports requires each import to target one resource of the
// configuration, with the id that resource has (the provider's import id
// format is the id's).
func (d *drift) checkImports() {
	byAddr := map[string][]*instance{}
	for _, i := range d.ev.Instances {
		byAddr[i.Block.addr()] = append(byAddr[i.Block.addr()], i)
	}
	seen := map[string]bool{}
	for _, imp := range d.ev.Imports {
		if seen[imp.To] {
			d.addf("%s is imported twice", imp.To)
		}
		seen[imp.To] = true
		insts := byAddr[imp.To]
		switch {
		case len(insts) != 1 || insts[0].Key != "":
			d.addf("import into %s, which is not a single resource of the configuration", imp.To)
		case imp.ID != str(insts[0].Val, "id"):
			d.addf("import into %s uses id %q, but the resource's id is %q", imp.To, imp.ID, str(insts[0].Val, "id"))
		}
	}
}

// minIAMWait is how long the functions wait for fresh IAM grants: the
// provider's own example of a build service account waits 60 s.
const minIAMWait = 60 * time.Second

// checkIAMWait requires each function to wait (depends_on) for a time_sleep
// of at least minIAMWait that runs again (triggers) whenever the build
// account's grants or the function's own secret grants are replaced: on a
// fresh project builds fail until the build account's roles have
// propagated.
func (d *drift) checkIAMWait() {
	grantAddrs := map[string]map[string]bool{} // principal → IAM resource addresses
	for _, inst := range d.ev.Instances {
		if inst.Block.Mode != "resource" || !strings.HasSuffix(inst.Block.Type, "_iam_member") {
			continue
		}
		who := d.memberPrincipal(str(inst.Val, "member"))
		if who == "build" || (strings.HasPrefix(who, "runtime:") && inst.Block.Type == "google_secret_manager_secret_iam_member") {
			if grantAddrs[who] == nil {
				grantAddrs[who] = map[string]bool{}
			}
			grantAddrs[who][inst.Block.addr()] = true
		}
	}
	if len(grantAddrs["build"]) == 0 {
		d.addf("no IAM grant to the build service account")
	}
	sleeps := map[string]*instance{}
	for _, s := range d.ev.ofType("time_sleep") {
		sleeps[s.Block.addr()] = s
	}
	for _, entry := range sortedKeys(d.fnByEntry) {
		fn := d.fnByEntry[entry]
		need := map[string]bool{}
		for a := range grantAddrs["build"] {
			need[a] = true
		}
		for a := range grantAddrs["runtime:"+entry] {
			need[a] = true
		}
		var reasons []string
		ok := false
		for _, addr := range sortedKeys(fn.Block.Refs) {
			s, isSleep := sleeps[addr]
			if !isSleep {
				continue
			}
			dur, err := time.ParseDuration(str(s.Val, "create_duration"))
			if err != nil || dur < minIAMWait {
				reasons = append(reasons, fmt.Sprintf("%s waits %q, less than %s", s, str(s.Val, "create_duration"), minIAMWait))
				continue
			}
			var triggers map[string]bool
			if a, ok := s.Block.Body.Attributes["triggers"]; ok {
				triggers = references(a.Expr)
			}
			var missing []string
			for _, g := range sortedKeys(need) {
				if !triggers[g] {
					missing = append(missing, g)
				}
			}
			if len(missing) > 0 {
				reasons = append(reasons, fmt.Sprintf("%s's triggers lack %v", s, missing))
				continue
			}
			ok = true
		}
		if !ok {
			d.addf("%s does not wait for IAM to propagate (depends_on a time_sleep of at least %s triggered by the build and secret grants)%s", fn, minIAMWait, strings.Join(append([]string{""}, reasons...), "; "))
		}
	}
}

// minProviderVersions are the lowest provider versions the configuration
// works with, and why.
var minProviderVersions = map[string]struct{ version, why string }{
	"google":  {"6.25.0", "the lowest version validated and tested (secret_data_wo, ephemeral resources)"},
	"archive": {"2.5.0", "the first version whose glob excludes work (source.tf)"},
	"random":  {"3.7.1", "the first version with the ephemeral random_password"},
	"time":    {"0.11.1", "the lowest version validated and tested (time_sleep with triggers)"},
}

// (g) every provider the configuration uses is pinned to a range that starts
// at or above its minimum and has an upper bound (both ends are tested).
func (d *drift) checkVersions() {
	used := map[string]bool{}
	for _, i := range d.ev.Instances {
		used[strings.SplitN(i.Block.Type, "_", 2)[0]] = true
	}
	for _, name := range sortedKeys(used) {
		rp, ok := d.ev.RequiredProviders[name]
		if !ok {
			d.addf("provider %q is used but not in required_providers (versions.tf)", name)
			continue
		}
		if rp.Source != "hashicorp/"+name {
			d.addf("provider %q: source %q, want hashicorp/%s", name, rp.Source, name)
		}
		lower, upper := versionBounds(rp.Version)
		if minimum, ok := minProviderVersions[name]; ok && (lower == nil || compareVersions(lower, parseVersion(minimum.version)) < 0) {
			d.addf("provider %q: version %q allows versions below %s, %s", name, rp.Version, minimum.version, minimum.why)
		}
		if lower == nil {
			d.addf("provider %q: version %q has no lower bound (>=)", name, rp.Version)
		}
		if upper == nil {
			d.addf("provider %q: version %q has no upper bound (<): a new major version could break the deploy", name, rp.Version)
		}
	}
}

// versionBounds returns the ">=" and "<" versions of a constraint such as
// ">= 2.5.0, < 3.0" (nil where there is none).
func versionBounds(constraint string) (lower, upper []int) {
	for _, part := range strings.Split(constraint, ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.HasPrefix(part, ">="):
			lower = parseVersion(strings.TrimSpace(strings.TrimPrefix(part, ">=")))
		case strings.HasPrefix(part, "<") && !strings.HasPrefix(part, "<="):
			upper = parseVersion(strings.TrimSpace(strings.TrimPrefix(part, "<")))
		}
	}
	return lower, upper
}

// parseVersion parses "X", "X.Y" or "X.Y.Z" into three numbers (nil if it
// is not a version).
func parseVersion(s string) []int {
	v := []int{0, 0, 0}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return nil
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil
		}
		v[i] = n
	}
	return v
}

func compareVersions(a, b []int) int {
	for i := range 3 {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// (f) one source zip, named by its hash.
func (d *drift) checkSource() {
	archives := map[string]*instance{}
	for _, i := range d.ev.Instances {
		if i.Block.Mode == "data" && i.Block.Type == "archive_file" {
			archives[i.String()] = i
		}
	}
	objects := map[string]*instance{}
	for _, o := range d.ev.ofType("google_storage_bucket_object") {
		objects[str(o.Val, "bucket")+"/"+str(o.Val, "name")] = o
	}
	sources := map[string]bool{}
	for _, entry := range sortedKeys(d.fnByEntry) {
		fn := d.fnByEntry[entry]
		ss := at(fn.Val, "build_config", 0, "source", 0, "storage_source", 0)
		key := str(ss, "bucket") + "/" + str(ss, "object")
		sources[key] = true
		obj, ok := objects[key]
		if !ok {
			d.addf("%s builds from %q, which is no google_storage_bucket_object", fn, key)
			continue
		}
		hashed := false
		for addr, a := range archives {
			for _, h := range []string{"output_md5", "output_sha", "output_sha256", "output_base64sha256", "output_sha512"} {
				if strings.Contains(str(obj.Val, "name"), computed(addr, h)) && str(obj.Val, "source") == str(a.Val, "output_path") {
					hashed = true
				}
			}
		}
		if !hashed {
			d.addf("%s: object name %q must contain the hash of the archive_file it uploads, or code changes are not redeployed", obj, str(obj.Val, "name"))
		}
	}
	if len(sources) > 1 {
		d.addf("the functions build from different sources %v; they share one zip", sortedKeys(sources))
	}
	for _, a := range archives {
		if src := str(a.Val, "source_dir"); filepath.Clean(src) != ".." {
			d.addf("%s zips %q, want the repository root (${path.module}/..)", a, src)
		}
		excl := list(at(a.Val, "excludes"))
		for _, dir := range []string{".git", ".dev", "terraform"} {
			if !slices.ContainsFunc(excl, func(v cty.Value) bool { p := asString(v); return p == dir || strings.HasPrefix(p, dir+"/") }) {
				d.addf("%s does not exclude %s/ from the source zip", a, dir)
			}
		}
	}
}

// The rest of issue 7: APIs, Firestore, KMS, the scheduler, the outputs.
func (d *drift) checkRest() {
	apis := map[string]bool{}
	for _, s := range d.ev.ofType("google_project_service") {
		apis[str(s.Val, "service")] = true
	}
	for _, api := range requiredAPIs {
		if !apis[api] {
			d.addf("API %s is not enabled (google_project_service)", api)
		}
	}

	native := false
	for _, db := range d.ev.ofType("google_firestore_database") {
		native = native || str(db.Val, "type") == "FIRESTORE_NATIVE"
	}
	if !native {
		d.addf("no google_firestore_database of type FIRESTORE_NATIVE")
	}
	dbName := ""
	for _, db := range d.ev.ofType("google_firestore_database") {
		dbName = str(db.Val, "name")
	}
	ttl := map[string]bool{}
	for _, f := range d.ev.ofType("google_firestore_field") {
		if got := str(f.Val, "database"); got != dbName {
			d.addf("%s is on database %q, but the functions use %q", f, got, dbName)
		}
		if len(list(at(f.Val, "ttl_config"))) > 0 {
			ttl[str(f.Val, "collection")+"."+str(f.Val, "field")] = true
		}
	}
	for _, coll := range sortedKeys(d.code.TTL) {
		if !ttl[coll+"."+d.code.TTL[coll]] {
			d.addf("no TTL policy (google_firestore_field with ttl_config) on %s.%s", coll, d.code.TTL[coll])
		}
	}

	keys := d.ev.ofType("google_kms_crypto_key")
	if len(keys) == 0 {
		d.addf("no google_kms_crypto_key for token encryption")
	}
	for _, k := range keys {
		if !k.PreventDestroy {
			d.addf("%s lacks lifecycle { prevent_destroy = true }: destroying it makes every stored token unreadable", k)
		}
	}

	if poll, ok := d.fnByEntry["Poll"]; ok {
		uri := str(poll.Val, "service_config", 0, "uri")
		found := false
		for _, job := range d.ev.ofType("google_cloud_scheduler_job") {
			if str(job.Val, "http_target", 0, "uri") != uri+queue.PollTickPath {
				d.addf("%s calls %q, want Poll's URL + %q", job, str(job.Val, "http_target", 0, "uri"), queue.PollTickPath)
				continue
			}
			found = true
			sched := str(job.Val, "schedule")
			if sched != "* * * * *" {
				d.addf("%s: schedule %q, want every minute by default", job, sched)
			}
			// The poller's POLL_INTERVAL must be the schedule's period.
			if pi, ok := stringMap(at(poll.Val, "service_config", 0, "environment_variables"))["POLL_INTERVAL"]; ok {
				want := "1m"
				if n, ok := strings.CutPrefix(strings.Fields(sched + " x")[0], "*/"); ok {
					want = n + "m"
				}
				if pi != want {
					d.addf("%s: POLL_INTERVAL %q, but the scheduler calls every %s (%q)", poll, pi, want, sched)
				}
			}
			if aud := str(job.Val, "http_target", 0, "oidc_token", 0, "audience"); aud != "" && aud != uri {
				d.addf("%s: OIDC audience %q, want Poll's URL", job, aud)
			}
		}
		if !found {
			d.addf("no google_cloud_scheduler_job calls Poll at %q", queue.PollTickPath)
		}
	}

	settingsURL := asString(d.ev.Outputs["settings_url"])
	wantOutputs := map[string]string{
		"settings_url":                 settingsURL,
		"google_oauth_redirect_uri":    settingsURL + "/oauth/google/callback",
		"pipedrive_oauth_redirect_uri": settingsURL + "/oauth/pipedrive/callback",
	}
	if intake, ok := d.fnByEntry["Intake"]; ok {
		wantOutputs["webhook_url"] = str(intake.Val, "url")
	}
	for _, name := range sortedKeys(wantOutputs) {
		v, ok := d.ev.Outputs[name]
		switch {
		case !ok:
			d.addf("output %q is missing", name)
		case settingsURL == "":
			d.addf("output settings_url is empty")
		case asString(v) != wantOutputs[name]:
			d.addf("output %q is %q, want %q", name, asString(v), wantOutputs[name])
		}
	}
	if s, ok := d.fnByEntry["Settings"]; ok {
		if pub := str(s.Val, "service_config", 0, "environment_variables", "PUBLIC_URL"); pub != settingsURL {
			d.addf("Settings' PUBLIC_URL %q differs from output settings_url %q: the OAuth redirect URIs would not match", pub, settingsURL)
		}
	}
	for _, entry := range sortedKeys(d.fnByEntry) {
		fn := d.fnByEntry[entry]
		if u, ok := stringMap(at(fn.Val, "service_config", 0, "environment_variables"))["INTAKE_URL"]; ok && u != asString(d.ev.Outputs["webhook_url"]) {
			d.addf("%s: INTAKE_URL %q differs from output webhook_url", fn, u)
		}
	}
}

// expectedCode is the code model the Terraform was written for: the four
// functions of SPEC section 2 with the repository's config and queue.
func expectedCode() codeModel {
	return codeModel{
		Functions:     map[string]string{"Settings": "HTTP", "Intake": "HTTP", "Poll": "HTTP", "Apply": "CloudEvent"},
		Vars:          configVars(),
		Topics:        []string{queue.ChangesTopic, queue.PollsTopic, queue.FirstSyncTopic},
		Subscriptions: queue.Subscriptions(testProject),
		TTL:           map[string]string{"oauth_states": "expire_at", "attempts": "expire_at"},
	}
}

func loadRepoConfig(t *testing.T) (map[string][]byte, *evaluated) {
	t.Helper()
	files, err := readTF(".")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := loadConfig(files)
	if err != nil {
		t.Fatalf("evaluating terraform/*.tf: %v", err)
	}
	return files, ev
}

// TestDrift compares terraform/*.tf with the code as it is in the repository.
func TestDrift(t *testing.T) {
	_, ev := loadRepoConfig(t)
	code := codeFromRepo(t)
	if len(code.Functions) == 0 {
		t.Fatal("no function is registered under functions/ (functions.HTTP / functions.CloudEvent in init): the drift test has nothing to compare")
	}
	for _, p := range checkDrift(ev, code) {
		t.Error(p)
	}
}

// TestTerraformMatchesExpectedCode checks the Terraform against the four
// functions of the spec, independently of how far the function packages are.
func TestTerraformMatchesExpectedCode(t *testing.T) {
	_, ev := loadRepoConfig(t)
	for _, p := range checkDrift(ev, expectedCode()) {
		t.Error(p)
	}
}

// TestDriftCatchesBrokenConfig breaks the real configuration one way at a
// time and requires the checker to notice, so it cannot pass vacuously.
func TestDriftCatchesBrokenConfig(t *testing.T) {
	files, _ := loadRepoConfig(t)
	tests := []struct {
		name     string
		file     string
		old, new string
		want     string // substring of a reported problem
	}{
		{"entry point renamed", "function_poll.tf", `entry_point     = "Poll"`, `entry_point     = "Poller"`, `function "Poll" is registered in code but no google_cloudfunctions2_function`},
		{"unregistered entry point", "function_poll.tf", `entry_point     = "Poll"`, `entry_point     = "Poller"`, `entry point "Poller", which no functions.HTTP/CloudEvent call registers`},
		{"required variable missing", "function_settings.tf", "      PUBLIC_URL          = local.settings_url\n", "", "does not set PUBLIC_URL"},
		{"variable the code does not read", "function_apply.tf", "PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id\n", "PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id\n      EXTRA_SETTING = \"x\"\n", "sets EXTRA_SETTING, which config.Apply does not read"},
		{"secret as plain variable", "function_apply.tf", "PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id\n", "PIPEDRIVE_CLIENT_ID = var.pipedrive_client_id\n      TOKEN_KEY = \"abc\"\n", "sets TOKEN_KEY as a plain environment variable"},
		{"secret not pinned", "function_poll.tf", `version    = google_secret_manager_secret_version.this["google_client_secret"].version`, `version    = "latest"`, "must be pinned to a numeric version"},
		{"topic env differs", "main.tf", `CHANGES_TOPIC        = google_pubsub_topic.topic["changes"].name`, `CHANGES_TOPIC        = "other"`, `CHANGES_TOPIC is "other" but the code's topic is "changes"`},
		{"ordering off", "pubsub.tf", "ordered              = true", "ordered              = false", "enable_message_ordering is false, want true"},
		{"wrong push path", "pubsub.tf", `path                 = "/connection"`, `path                 = "/conn"`, "push endpoint"},
		{"wrong delivery attempts", "pubsub.tf", "max_delivery_attempts = 10", "max_delivery_attempts = 5", `max_delivery_attempts is "5", want 10`},
		{"wrong ack deadline", "pubsub.tf", "ack_deadline_seconds = 300", "ack_deadline_seconds = 30", `ack_deadline_seconds is "30", want 300`},
		{"wrong backoff", "pubsub.tf", `minimum_backoff       = "10s"`, `minimum_backoff       = "1s"`, "retry_policy.minimum_backoff"},
		{"dead-letter topic renamed", "pubsub.tf", `name = "${each.key}-dead-letter"`, `name = "${each.key}-dlq"`, `topic "changes-dead-letter" is used by the code but not created`},
		{"no hold subscription", "pubsub.tf", `name  = "${each.key}-dead-letter-hold"`, `name  = "${each.key}-dl-keep"`, "dead-letter hold subscription"},
		{"subscription may expire", "pubsub.tf", "  expiration_policy {\n    ttl = \"\"\n  }\n\n  depends_on", "  depends_on", "may expire when idle"},
		{"Poll public", "function_poll.tf", `member   = "serviceAccount:${google_service_account.scheduler.email}"`, `member   = "allUsers"`, "Poll is publicly invokable"},
		{"Apply for all authenticated", "function_apply.tf", `member   = "serviceAccount:${google_service_account.pubsub_push.email}"`, `member   = "allAuthenticatedUsers"`, "Apply is publicly invokable"},
		{"Intake not public", "function_intake.tf", `member   = "allUsers"`, `member   = "serviceAccount:${google_service_account.intake.email}"`, "Intake is not publicly invokable"},
		{"automatic secret replication", "secrets.tf", "    user_managed {\n      dynamic \"replicas\" {\n        for_each = local.secret_locations\n        content {\n          location = replicas.value\n        }\n      }\n    }\n", "    auto {}\n", "uses automatic replication"},
		{"function does not wait for IAM", "function_poll.tf", "depends_on = [time_sleep.iam_propagation]", "depends_on = [google_project_iam_member.build_builder]", "google_cloudfunctions2_function.poll does not wait for IAM to propagate"},
		{"IAM wait too short", "source.tf", `create_duration = "60s"`, `create_duration = "10s"`, `time_sleep.iam_propagation waits "10s", less than 1m0s`},
		{"IAM wait without the builder grant", "source.tf", "      build_builder       = google_project_iam_member.build_builder.id\n", "", "triggers lack [google_project_iam_member.build_builder]"},
		{"IAM wait without the secret grants", "source.tf", "    { for k, m in google_secret_manager_secret_iam_member.apply : \"apply_${k}\" => m.id },\n", "", "triggers lack [google_secret_manager_secret_iam_member.apply]"},
		{"time provider not pinned", "versions.tf", "    time = {\n      source  = \"hashicorp/time\"\n      version = \">= 0.11.1, < 1.0\"\n    }\n", "", `provider "time" is used but not in required_providers`},
		{"archive pin too low", "versions.tf", `version = ">= 2.5.0, < 3.0"`, `version = ">= 2.4.1, < 3.0"`, `provider "archive": version ">= 2.4.1, < 3.0" allows versions below 2.5.0`},
		{"archive pin unbounded", "versions.tf", `version = ">= 2.5.0, < 3.0"`, `version = ">= 2.5.0"`, `provider "archive": version ">= 2.5.0" has no upper bound`},
		{"role outside allow-list", "function_intake.tf", `role    = "roles/datastore.viewer"`, `role    = "roles/datastore.owner"`, "runtime:Intake holds roles/datastore.owner on project, which is not in the drift test's allow-list"},
		{"project-wide publisher", "function_intake.tf", "resource \"google_pubsub_topic_iam_member\" \"intake_changes\" {\n  topic  = google_pubsub_topic.topic[\"changes\"].id", "resource \"google_project_iam_member\" \"intake_changes\" {\n  project = var.project_id", "runtime:Intake holds roles/pubsub.publisher on project"},
		{"missing push invoker", "function_apply.tf", `role     = "roles/run.invoker"`, `role     = "roles/run.viewer"`, "missing grant: pubsub-push holds roles/run.invoker on function:Apply"},
		{"shared service account", "function_apply.tf", "service_account_email = google_service_account.apply.email", "service_account_email = google_service_account.poll.email", "is used both as runtime:Apply and as runtime:Poll"},
		{"Eventarc trigger", "function_apply.tf", "  service_config {\n    service_account_email = google_service_account.apply.email", "  event_trigger {\n    event_type = \"google.cloud.pubsub.topic.v1.messagePublished\"\n  }\n\n  service_config {\n    service_account_email = google_service_account.apply.email", "has an event_trigger"},
		{"old runtime", "function_intake.tf", "runtime         = local.go_runtime", `runtime         = "go125"`, `runtime is "go125", want "go126"`},
		{"zip name without hash", "source.tf", `name   = "contactsync-${data.archive_file.source.output_md5}.zip"`, `name   = "contactsync.zip"`, "must contain the hash"},
		{".git in the zip", "source.tf", "    \".git\",\n    \".git/**\",\n", "", "does not exclude .git/"},
		{"no TTL", "firestore.tf", "  ttl_config {}\n", "", "no TTL policy"},
		{"TTL collection missing", "firestore.tf", `toset(["oauth_states", "attempts"])`, `toset(["attempts"])`, "no TTL policy (google_firestore_field with ttl_config) on oauth_states.expire_at"},
		{"TTL of the failure counts missing", "firestore.tf", `toset(["oauth_states", "attempts"])`, `toset(["oauth_states"])`, "no TTL policy (google_firestore_field with ttl_config) on attempts.expire_at"},
		{"KMS key destroyable", "kms.tf", "prevent_destroy = true", "prevent_destroy = false", "lacks lifecycle { prevent_destroy = true }"},
		{"scheduler path", "function_poll.tf", `uri         = "${google_cloudfunctions2_function.poll.service_config[0].uri}/tick"`, `uri         = google_cloudfunctions2_function.poll.service_config[0].uri`, `want Poll's URL + "/tick"`},
		{"redirect URI", "outputs.tf", `value       = "${local.settings_url}/oauth/google/callback"`, `value       = "${local.settings_url}/oauth/google"`, `output "google_oauth_redirect_uri"`},
		{"POLL_INTERVAL differs from the schedule", "function_poll.tf", `POLL_INTERVAL       = "${var.poll_interval_minutes}m"`, `POLL_INTERVAL       = "5m"`, `POLL_INTERVAL "5m", but the scheduler calls every 1m`},
		{"API not enabled", "main.tf", "    \"cloudscheduler.googleapis.com\",\n", "", "API cloudscheduler.googleapis.com is not enabled"},
		{"Cloud Resource Manager API not enabled", "main.tf", "    \"cloudresourcemanager.googleapis.com\",\n", "", "API cloudresourcemanager.googleapis.com is not enabled"},
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
			ev, err := loadConfig(broken)
			if err != nil {
				t.Fatalf("evaluating the broken configuration: %v", err)
			}
			problems := checkDrift(ev, expectedCode())
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got:\n  %s", tt.want, strings.Join(problems, "\n  "))
			}
		})
	}
}

// TestDriftCatchesCodeChanges changes the code model one way at a time.
func TestDriftCatchesCodeChanges(t *testing.T) {
	_, ev := loadRepoConfig(t)
	tests := []struct {
		name   string
		change func(*codeModel)
		want   string
	}{
		{"no function registered yet", func(c *codeModel) { c.Functions = map[string]string{} }, "no function is registered in code"},
		{"new function", func(c *codeModel) { c.Functions["Export"] = "HTTP"; c.Vars["Export"] = nil }, `function "Export" is registered in code but no google_cloudfunctions2_function`},
		{"function without config", func(c *codeModel) { c.Functions["Export"] = "HTTP" }, `function "Export" is registered in code but config.All() has no config`},
		{"new required variable", func(c *codeModel) {
			c.Vars["Poll"] = append(c.Vars["Poll"], config.Var{Name: "NEW_REQUIRED", Required: true})
		}, "does not set NEW_REQUIRED, which config.Poll requires"},
		{"variable dropped from code", func(c *codeModel) {
			c.Vars["Poll"] = slices.DeleteFunc(slices.Clone(c.Vars["Poll"]), func(v config.Var) bool { return v.Name == "SAFETY_NET_INTERVAL" })
		}, "sets SAFETY_NET_INTERVAL, which config.Poll does not read"},
		{"new TTL collection", func(c *codeModel) { c.TTL["sessions"] = "expire_at" }, "no TTL policy (google_firestore_field with ttl_config) on sessions.expire_at"},
		{"new topic", func(c *codeModel) { c.Topics = append(c.Topics, "exports") }, `topic "exports" is used by the code but not created`},
		{"subscription changed", func(c *codeModel) { c.Subscriptions[0].AckDeadlineSeconds = 120 }, "ack_deadline_seconds"},
		{"new subscription", func(c *codeModel) {
			s := c.Subscriptions[0]
			s.Name = "changes-audit"
			c.Subscriptions = append(c.Subscriptions, s)
		}, `push subscription "changes-audit" (queue.Subscriptions) is not created`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := expectedCode()
			code.Subscriptions = slices.Clone(code.Subscriptions)
			tt.change(&code)
			problems := checkDrift(ev, code)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got:\n  %s", tt.want, strings.Join(problems, "\n  "))
			}
		})
	}
}

// TestRegisteredFunctions checks the scan of the function packages on a
// small fixture tree.
func TestRegisteredFunctions(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name:  "none yet",
			files: map[string]string{"settings/doc.go": "package settings\n"},
			want:  map[string]string{},
		},
		{
			name: "literal, alias, constant; tests and testdata ignored",
			files: map[string]string{
				"settings/settings.go": `package settings
import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() { functions.HTTP("Settings", nil) }
`,
				"apply/apply.go": `package apply
import ff "github.com/GoogleCloudPlatform/functions-framework-go/functions"
func init() { ff.CloudEvent(name, nil) }
`,
				"apply/names.go":       "package apply\nconst name = \"Apply\"\n",
				"apply/apply_test.go":  "package apply\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(\"TestOnly\", nil) }\n",
				"poll/testdata/x.go":   "package x\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(\"Fixture\", nil) }\n",
				"intake/other.go":      "package intake\nimport \"example.com/functions\"\nfunc init() { functions.HTTP(\"NotFF\", nil) }\n",
				"intake/intake.go":     "package intake\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(\"Intake\", nil) }\n",
				"intake/unrelated.go":  "package intake\nfunc f() { functions := struct{ HTTP func(string) }{}; _ = functions }\n",
				"intake/more/extra.go": "package more\n",
			},
			want: map[string]string{"Settings": "HTTP", "Apply": "CloudEvent", "Intake": "HTTP"},
		},
		{
			name: "duplicate name",
			files: map[string]string{
				"a/a.go": "package a\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(\"Poll\", nil) }\n",
				"b/b.go": "package b\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(\"Poll\", nil) }\n",
			},
			wantErr: `function "Poll" registered twice`,
		},
		{
			name: "name not constant",
			files: map[string]string{
				"a/a.go": "package a\nimport \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\nfunc init() { functions.HTTP(name(), nil) }\nfunc name() string { return \"X\" }\n",
			},
			wantErr: "not a string literal or constant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tt.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := registeredFunctions(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTTLFields checks the reading of the store's layout comment.
func TestTTLFields(t *testing.T) {
	src := `// Layout:
//
//	connections/{id}                     Connection
//	connections/{id}/deliveries/{msgID}  Delivery (dedup journal, TTL expire_at)
//	sessions/{id}                        Session (TTL gone_at)
package store
`
	file := filepath.Join(t.TempDir(), "store.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ttlFields(file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"oauth_states": "expire_at", "deliveries": "expire_at", "sessions": "gone_at"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestEvaluator checks the evaluator on a small fixture: for_each, count,
// dynamic blocks, locals in any order, synthesized attributes, and that a
// reference to something missing is an error rather than a silent pass.
func TestEvaluator(t *testing.T) {
	good := `
variable "project_id" { type = string }
variable "region" { default = "europe-west1" }
locals {
  b = "${local.a}-b"
  a = "a"
}
resource "google_pubsub_topic" "t" {
  for_each = toset(["x", "y"])
  name     = "${each.key}-${local.b}"
}
resource "google_service_account" "sa" {
  count      = 2
  account_id = "sa-${count.index}"
}
resource "google_pubsub_subscription" "s" {
  name  = "s"
  topic = google_pubsub_topic.t["y"].id
  dynamic "push_config" {
    for_each = { e = google_service_account.sa[1].email }
    content {
      push_endpoint = push_config.value
    }
  }
}
output "o" { value = google_pubsub_subscription.s.id }
`
	m, err := parseModule(map[string][]byte{"main.tf": []byte(good)})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := evaluate(m, map[string]cty.Value{"project_id": cty.StringVal("p")}, "project_id", "region")
	if err != nil {
		t.Fatal(err)
	}
	subs := ev.ofType("google_pubsub_subscription")
	if len(subs) != 1 {
		t.Fatalf("got %d subscriptions", len(subs))
	}
	for _, c := range []struct{ got, want string }{
		{str(subs[0].Val, "topic"), "projects/p/topics/y-a-b"},
		{str(subs[0].Val, "push_config", 0, "push_endpoint"), "sa-1@p.iam.gserviceaccount.com"},
		{asString(ev.Outputs["o"]), "projects/p/subscriptions/s"},
		{fmt.Sprint(len(ev.ofType("google_pubsub_topic"))), "2"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}

	for name, src := range map[string]string{
		"missing resource":    `resource "google_pubsub_topic" "t" { name = google_pubsub_topic.nope.name }`,
		"unknown attribute":   `resource "google_pubsub_topic" "t" { name = "a" }` + "\n" + `resource "google_pubsub_topic" "u" { name = google_pubsub_topic.t.no_such }`,
		"cycle":               "locals {\n  a = local.b\n  b = local.a\n}",
		"unknown function":    `locals { a = nosuchfn("x") }`,
		"undeclared test var": ``,
	} {
		t.Run(name, func(t *testing.T) {
			m, err := parseModule(map[string][]byte{"main.tf": []byte("variable \"region\" { default = \"r\" }\n" + src)})
			if err != nil {
				t.Fatal(err)
			}
			vars := map[string]cty.Value{}
			if name == "undeclared test var" {
				vars["nope"] = cty.StringVal("x")
			}
			if _, err := evaluate(m, vars, "project_id", "region"); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestFormat runs `terraform fmt -check` when terraform is installed (it
// needs no provider).
func TestFormat(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed")
	}
	out, err := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", ".").CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}
