// CSofiaSIP: the few sofia-sip nua calls faxd needs, behind plain C functions.
// sofia's API is built on tag lists (NUTAG_URL(x), SIPTAG_PAYLOAD_STR(x), ..., TAG_END()): variadic
// macros that Swift cannot call. Each wrapper here takes plain arguments instead. No sofia type
// appears in this header, so importing it never pulls sofia's <sys/select.h> use into Swift.
// Every function except csofiasip_agent_wakeup must be called on the agent's own thread.
#ifndef CSOFIASIP_H
#define CSOFIASIP_H

#include <stddef.h>

typedef struct csofiasip_agent csofiasip_agent;

/// Event kinds, a stable subset of nua_event_t.
enum csofiasip_event_kind {
    CSOFIASIP_EV_OTHER = 0,
    CSOFIASIP_EV_I_INVITE,      // nua_i_invite: new call or re-INVITE
    CSOFIASIP_EV_I_ACK,         // nua_i_ack
    CSOFIASIP_EV_I_BYE,         // nua_i_bye
    CSOFIASIP_EV_I_CANCEL,      // nua_i_cancel
    CSOFIASIP_EV_I_OPTIONS,     // nua_i_options: faxd answers it (csofiasip_respond_current)
    CSOFIASIP_EV_I_STATE,       // nua_i_state: call state change
    CSOFIASIP_EV_I_TERMINATED,  // nua_i_terminated
    CSOFIASIP_EV_I_UPDATE,      // nua_i_update
    CSOFIASIP_EV_I_INFO,        // nua_i_info
    CSOFIASIP_EV_R_INVITE,      // nua_r_invite: response to our INVITE
    CSOFIASIP_EV_R_BYE,         // nua_r_bye
    CSOFIASIP_EV_R_CANCEL,      // nua_r_cancel
    CSOFIASIP_EV_R_SHUTDOWN,    // nua_r_shutdown
    CSOFIASIP_EV_I_ERROR,       // nua_i_error
};

/// Call states, mapped one by one from enum nua_callstate (not by value: sofia versions differ).
enum csofiasip_call_state {
    CSOFIASIP_CS_INIT = 0, CSOFIASIP_CS_AUTHENTICATING, CSOFIASIP_CS_CALLING, CSOFIASIP_CS_PROCEEDING, CSOFIASIP_CS_COMPLETING,
    CSOFIASIP_CS_RECEIVED, CSOFIASIP_CS_EARLY, CSOFIASIP_CS_COMPLETED, CSOFIASIP_CS_READY,
    CSOFIASIP_CS_TERMINATING, CSOFIASIP_CS_TERMINATED,
};

/// One nua event flattened to plain fields. Strings point into sofia's message and live only for
/// the duration of the callback: copy what you keep. Absent fields are NULL / 0.
typedef struct csofiasip_event {
    int kind;                 // enum csofiasip_event_kind
    int nua_event;            // raw nua_event_t, for logging
    const char *event_name;   // nua_event_name()
    int status;
    const char *phrase;
    void *handle;             // nua_handle_t*, opaque
    void *handle_magic;       // the agent once the handle is the application's
    int call_state;           // enum csofiasip_call_state, for CSOFIASIP_EV_I_STATE
    const char *call_id;
    const char *cseq_method;
    unsigned cseq;
    const char *request_uri;  // full Request-URI
    const char *request_user; // Request-URI user part (the DID)
    const char *from_uri;
    const char *from_user;
    const char *from_display;
    const char *from_tag;
    const char *to_uri;
    const char *to_user;
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *source_ip;    // where the request came from (msg_addrinfo), numeric
    int source_port;
    const char *transport;    // "UDP", "TCP"
    const char *auth_scheme;  // from WWW-/Proxy-Authenticate of a 401/407
    const char *auth_realm;
    const char *session_expires_refresher; // "uac"/"uas" if present
    unsigned session_expires;
    const char *accept;       // the Accept header's media types, comma-separated; NULL when absent
} csofiasip_event;

typedef void (*csofiasip_event_cb)(void *ctx, const csofiasip_event *ev);
typedef void (*csofiasip_wakeup_cb)(void *ctx);

/// Options for csofiasip_agent_create.
typedef struct csofiasip_options {
    const char *bind_url;      // e.g. "sip:127.0.0.1:5060" (UDP and TCP) or "sip:*:*"
    const char *user_agent;    // User-Agent / Server header
    const char *allow;         // Allow header: the methods faxd takes (SIPAgent.allowedMethods)
    unsigned session_timer;    // seconds, 0 = do not ask for session timers
    int debug_level;           // sofia log level 0..9 (to stderr)
    unsigned tcp_keepalive_ms; // CRLF ping interval on TCP connections (finds peers that left)
    unsigned tcp_idle_ms;      // a TCP connection with no traffic this long is closed
} csofiasip_options;

/// Creates su_root + nua on the CALLING thread, which must then call csofiasip_agent_run.
/// Returns NULL and writes a reason into err on failure (e.g. the port is in use).
csofiasip_agent *csofiasip_agent_create(const csofiasip_options *opts, csofiasip_event_cb on_event,
                                        csofiasip_wakeup_cb on_wakeup, void *ctx, char *err, size_t errlen);
/// Runs the event loop until csofiasip_agent_shutdown completes (su_root_run).
void csofiasip_agent_run(csofiasip_agent *agent);
/// Thread safe: makes the loop call on_wakeup soon (eventfd registered with su_root).
void csofiasip_agent_wakeup(csofiasip_agent *agent);
/// Starts nua_shutdown; the loop ends when nua reports it finished (or after a 5 s guard).
void csofiasip_agent_shutdown(csofiasip_agent *agent);
/// Frees everything. Call on the agent thread after csofiasip_agent_run returned.
void csofiasip_agent_destroy(csofiasip_agent *agent);

/// Answers the current request on a handle (nua_respond) with the standard reason phrase of
/// `status`. body may be NULL; content_type defaults to application/sdp when a body is given;
/// extra_headers is raw "Name: value\r\n..." or NULL.
void csofiasip_respond(void *handle, int status, const char *content_type,
                       const char *body, const char *extra_headers);
/// Answers the request whose event is being delivered now (nua_respond with NUTAG_WITH_THIS):
/// what OPTIONS and other non-INVITE requests need. Call only from inside the event callback.
void csofiasip_respond_current(csofiasip_agent *agent, void *handle, int status, const char *extra_headers);
/// sofia's standard reason phrase for a status code (static storage), NULL when it has none.
const char *csofiasip_status_phrase(int status);
/// Creates a handle for an outgoing call and sends INVITE (nua_handle + nua_invite).
/// route may be NULL (else an outbound proxy URI, sent as a loose Route).
void *csofiasip_invite(csofiasip_agent *agent, const char *request_uri, const char *from,
                       const char *to, const char *route, const char *content_type, const char *body,
                       const char *extra_headers);
/// Sends a re-INVITE on an established call (nua_invite on the existing handle).
void csofiasip_reinvite(void *handle, const char *content_type, const char *body);
/// Sends BYE (nua_bye).
void csofiasip_bye(void *handle);
/// Cancels our pending INVITE (nua_cancel).
void csofiasip_cancel(void *handle);
/// Retries the last request with credentials "Digest:\"realm\":user:password" (nua_authenticate).
void csofiasip_authenticate(void *handle, const char *credentials);
/// Releases the handle (nua_handle_destroy).
void csofiasip_handle_destroy(void *handle);
/// nua handles the application owns and has not destroyed (a dialog or request leak shows here).
/// Safe from any thread.
long csofiasip_agent_live_handles(csofiasip_agent *agent);

#endif
