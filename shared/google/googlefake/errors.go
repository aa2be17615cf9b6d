package googlefake

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is one error answer of the People API, in Google's JSON shape:
// {"error":{"code","message","errors":[…],"status","details":[…]}}.
type apiError struct {
	code    int
	status  string // canonical gRPC status name
	reason  string // legacy errors[].reason
	message string
	details []any
	header  http.Header
}

func (e *apiError) Error() string { return strconv.Itoa(e.code) + " " + e.status + ": " + e.message }

const msgInvalidArgument = "Request contains an invalid argument."

func errInvalid(msg string) *apiError {
	if msg == "" {
		msg = msgInvalidArgument
	}
	return &apiError{code: 400, status: "INVALID_ARGUMENT", reason: "badRequest", message: msg}
}

func errFailedPrecondition(msg string) *apiError {
	return &apiError{code: 400, status: "FAILED_PRECONDITION", reason: "failedPrecondition", message: msg}
}

func errNotFound() *apiError {
	return &apiError{code: 404, status: "NOT_FOUND", reason: "notFound", message: "Requested entity was not found."}
}

func errUnauthenticated() *apiError {
	return &apiError{
		code: 401, status: "UNAUTHENTICATED", reason: "authError",
		message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		details: []any{errorInfo("ACCESS_TOKEN_TYPE_UNSUPPORTED", "googleapis.com", map[string]string{"service": "people.googleapis.com"})},
		header:  http.Header{"Www-Authenticate": {`Bearer realm="https://accounts.google.com/", error="invalid_token"`}},
	}
}

func errInsufficientScope() *apiError {
	return &apiError{
		code: 403, status: "PERMISSION_DENIED", reason: "insufficientPermissions",
		message: "Request had insufficient authentication scopes.",
		details: []any{errorInfo("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com", map[string]string{"service": "people.googleapis.com"})},
	}
}

func errorInfo(reason, domain string, md map[string]string) map[string]any {
	m := map[string]any{
		"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
		"reason": reason,
		"domain": domain,
	}
	if len(md) > 0 {
		m["metadata"] = md
	}
	return m
}

// writeError writes e. With legacy set, the body carries the old errors[]
// array too, as real People responses do; without it the body is the pure
// google.rpc.Status shape (facts §8: test both Go parsing paths).
func writeError(w http.ResponseWriter, e *apiError, legacy bool) {
	body := map[string]any{
		"code":    e.code,
		"message": e.message,
		"status":  e.status,
	}
	if legacy {
		body["errors"] = []map[string]string{{"message": e.message, "domain": "global", "reason": e.reason}}
	}
	if len(e.details) > 0 {
		body["details"] = e.details
	}
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, e.code, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = 500, []byte(`{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
