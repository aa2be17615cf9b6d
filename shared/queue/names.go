package queue

// Subscription describes one push subscription, identical in production
// (Terraform) and in the local stack (scripts/dev), as SPEC section 2 asks.
type Subscription struct {
	Name  string // subscription id
	Topic string // topic id it reads
	// Function is the registered name of the function it pushes to, and
	// PushPath the path on that function's URL. For the CloudEvent applier the
	// path must be /projects/P/topics/T so functions-framework-go can turn
	// the raw push body into a messagePublished CloudEvent.
	Function string
	PushPath string
	Ordered  bool
	// DeadLetterTopic receives a message after MaxDeliveryAttempts failures.
	DeadLetterTopic     string
	MaxDeliveryAttempts int
	AckDeadlineSeconds  int
	MinBackoffSeconds   int
	MaxBackoffSeconds   int
}

// Default topic ids (overridable by CHANGES_TOPIC, POLLS_TOPIC, FIRST_SYNC_TOPIC).
const (
	ChangesTopic   = "changes"
	PollsTopic     = "polls"
	FirstSyncTopic = "first-sync"
	// DeadLetterSuffix names each topic's dead-letter topic; a pull
	// subscription named topic+DeadLetterSuffix+"-hold" keeps dead letters
	// (none is ever silently dropped), and the poller moves the changes
	// topic's into the held list (DeadLetters).
	DeadLetterSuffix = "-dead-letter"
	// PollTickPath is where Cloud Scheduler (and the local ticker) POSTs.
	PollTickPath = "/tick"
)

// Subscriptions returns the push subscriptions for a project.
func Subscriptions(project string) []Subscription {
	push := func(name, topic, fn, path string, ordered bool, ack int) Subscription {
		return Subscription{
			Name: name, Topic: topic, Function: fn, PushPath: path, Ordered: ordered,
			DeadLetterTopic: topic + DeadLetterSuffix, MaxDeliveryAttempts: 10,
			AckDeadlineSeconds: ack, MinBackoffSeconds: 10, MaxBackoffSeconds: 600,
		}
	}
	return []Subscription{
		// 600 s, the most Pub/Sub allows: one connection's changes wait for
		// each other (ordering key), so an apply backing off on Google's
		// per-minute quota must not be redelivered meanwhile.
		push("changes-apply", ChangesTopic, "Apply", "/projects/"+project+"/topics/"+ChangesTopic, true, 600),
		push("first-sync-apply", FirstSyncTopic, "Apply", "/projects/"+project+"/topics/"+FirstSyncTopic, false, 600),
		push("polls-poll", PollsTopic, "Poll", "/connection", false, 300),
	}
}
