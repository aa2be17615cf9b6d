package googlefake

import (
	"fmt"
	"net/url"
	"sort"
)

// Request validation per method, from the People API discovery document
// (google.golang.org/api/people/v1/people-api.json, revision 20251117):
// the query parameters each method takes, and for each field mask which
// values are valid, what it defaults to and whether it is required. A
// contract test (TestMaskRulesMatchDiscovery) checks these tables against
// the document's own descriptions, so the fake refuses exactly what the
// reference does not allow, per method: e.g. contactGroups.create's
// readGroupFields has no memberCount although get and list have one.

// standardParams are the discovery document's global parameters, valid on
// every method (the Go client sends alt and prettyPrint on every call).
var standardParams = set("$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
	"prettyPrint", "quotaUser", "uploadType", "upload_protocol")

// methodParams are each method's query parameters (path parameters aside).
var methodParams = map[string]map[string]bool{
	MethodConnectionsList: set("pageSize", "pageToken", "personFields", "requestMask.includeField",
		"requestSyncToken", "sortOrder", "sources", "syncToken"),
	MethodGet:                 set("personFields", "requestMask.includeField", "sources"),
	MethodGetBatchGet:         set("personFields", "requestMask.includeField", "resourceNames", "sources"),
	MethodCreateContact:       set("personFields", "sources"),
	MethodUpdateContact:       set("personFields", "sources", "updatePersonFields"),
	MethodDeleteContact:       set(),
	MethodBatchCreateContacts: set(),
	MethodBatchUpdateContacts: set(),
	MethodBatchDeleteContacts: set(),
	MethodGroupsList:          set("groupFields", "pageSize", "pageToken", "syncToken"),
	MethodGroupsGet:           set("groupFields", "maxMembers"),
	MethodGroupsBatchGet:      set("groupFields", "maxMembers", "resourceNames"),
	MethodGroupsCreate:        set(),
	MethodGroupsUpdate:        set(),
	MethodGroupsDelete:        set("deleteContacts"),
	MethodGroupsMembersModify: set(),
}

// checkQuery refuses a query parameter the method does not take, as
// Google does ("Cannot bind query parameter").
func checkQuery(method string, q url.Values) *apiError {
	allowed, ok := methodParams[method]
	if !ok {
		return nil
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowed[k] && !standardParams[k] {
			return errInvalid(fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field '%s' could not be found in request message.", k, k))
		}
	}
	return nil
}

// maskRule is one field mask of one method.
type maskRule struct {
	valid    map[string]bool
	def      map[string]bool // when not set or empty; nil: all fields (person masks) or none
	required bool
	doc      string // the method's reference page, for error messages
}

// groupReadFields: "Valid fields are: clientData, groupType, memberCount,
// metadata, name" (get, list, batchGet, and update's readGroupFields).
var groupReadFields = set("clientData", "groupType", "memberCount", "metadata", "name")

// maskRules are keyed by method id + " " + mask name (query parameter or
// request body field).
var maskRules = map[string]maskRule{
	MethodConnectionsList + " personFields": {valid: readableFields, required: true, doc: "people.connections/list"},
	MethodGet + " personFields":             {valid: readableFields, required: true, doc: "people/get"},
	MethodGetBatchGet + " personFields":     {valid: readableFields, required: true, doc: "people/getBatchGet"},
	// "Required ... Defaults to all fields if not set" [?]: not enforced.
	MethodCreateContact + " personFields":       {valid: readableFields, doc: "people/createContact"},
	MethodUpdateContact + " personFields":       {valid: readableFields, doc: "people/updateContact"},
	MethodUpdateContact + " updatePersonFields": {valid: writableFields, required: true, doc: "people/updateContact"},
	// "Required. ... If read mask is left empty, the post-mutate-get is
	// skipped": empty is allowed and means no read-back.
	MethodBatchCreateContacts + " readMask":   {valid: readableFields, doc: "people/batchCreateContacts"},
	MethodBatchUpdateContacts + " readMask":   {valid: readableFields, doc: "people/batchUpdateContacts"},
	MethodBatchUpdateContacts + " updateMask": {valid: writableFields, required: true, doc: "people/batchUpdateContacts"},
	MethodGroupsList + " groupFields": {valid: groupReadFields, def: set("metadata", "groupType", "memberCount", "name"),
		doc: "contactGroups/list"},
	MethodGroupsGet + " groupFields": {valid: groupReadFields, def: set("metadata", "groupType", "memberCount", "name"),
		doc: "contactGroups/get"},
	MethodGroupsBatchGet + " groupFields": {valid: groupReadFields, def: set("metadata", "groupType", "memberCount", "name"),
		doc: "contactGroups/batchGet"},
	MethodGroupsCreate + " readGroupFields": {valid: set("clientData", "groupType", "metadata", "name"),
		def: set("metadata", "groupType", "name"), doc: "contactGroups/create"},
	MethodGroupsUpdate + " readGroupFields": {valid: groupReadFields, def: set("metadata", "groupType", "name"),
		doc: "contactGroups/update"},
	MethodGroupsUpdate + " updateGroupFields": {valid: set("clientData", "name"), def: set("name"),
		doc: "contactGroups/update"},
}

// fieldMask parses the field mask param of method by its rule. It returns the
// rule's default for an empty mask (nil when that means every field or,
// for the read masks of batch mutations, none).
func fieldMask(method, param, raw string) (map[string]bool, *apiError) {
	r, ok := maskRules[method+" "+param]
	if !ok {
		panic("googlefake: no mask rule for " + method + " " + param) // a bug in the fake, not input
	}
	m, e := parseMask(raw, param, r.doc, r.valid, r.required)
	if e != nil || m != nil {
		return m, e
	}
	return r.def, nil
}
