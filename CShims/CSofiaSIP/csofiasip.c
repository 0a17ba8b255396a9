// Thin wrappers around sofia-sip nua. See include/CSofiaSIP.h for the contract.
#include "CSofiaSIP.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define SU_ROOT_MAGIC_T struct csofiasip_agent
#define NUA_MAGIC_T struct csofiasip_agent
#define NUA_HMAGIC_T void
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/tport.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/nta.h>

extern su_log_t nua_log[];
extern su_log_t nta_log[];
extern su_log_t tport_log[];
extern su_log_t su_log_default[];

struct csofiasip_agent {
    su_home_t home[1];
    su_root_t *root;
    nua_t *nua;
    int wakefd;
    su_wait_t wait[1];
    int wait_index;
    su_timer_t *guard;
    csofiasip_event_cb on_event;
    csofiasip_wakeup_cb on_wakeup;
    void *ctx;
    /* nua handles the application owns and has not destroyed yet: those the stack made for
     * incoming requests (seen first in an event, then bound to the agent) and those made for
     * outgoing calls. Written on the agent thread, read from any. */
    long live_handles;
    /* Status of nua_r_set_params (0 until it arrives): creation waits for it; and of
     * nua_r_shutdown, when creation has to undo itself. */
    int params_status;
    int shutdown_status;
};

static int csofiasip_map_event(nua_event_t e) {
    switch (e) {
    case nua_i_invite: return CSOFIASIP_EV_I_INVITE;
    case nua_i_ack: return CSOFIASIP_EV_I_ACK;
    case nua_i_bye: return CSOFIASIP_EV_I_BYE;
    case nua_i_cancel: return CSOFIASIP_EV_I_CANCEL;
    case nua_i_options: return CSOFIASIP_EV_I_OPTIONS;
    case nua_i_state: return CSOFIASIP_EV_I_STATE;
    case nua_i_terminated: return CSOFIASIP_EV_I_TERMINATED;
    case nua_i_update: return CSOFIASIP_EV_I_UPDATE;
    case nua_i_info: return CSOFIASIP_EV_I_INFO;
    case nua_r_invite: return CSOFIASIP_EV_R_INVITE;
    case nua_r_bye: return CSOFIASIP_EV_R_BYE;
    case nua_r_cancel: return CSOFIASIP_EV_R_CANCEL;
    case nua_r_shutdown: return CSOFIASIP_EV_R_SHUTDOWN;
    case nua_i_error: return CSOFIASIP_EV_I_ERROR;
    default: return CSOFIASIP_EV_OTHER;
    }
}

static int csofiasip_map_state(int ss) {
    switch ((enum nua_callstate)ss) {
    case nua_callstate_init: return CSOFIASIP_CS_INIT;
    case nua_callstate_authenticating: return CSOFIASIP_CS_AUTHENTICATING;
    case nua_callstate_calling: return CSOFIASIP_CS_CALLING;
    case nua_callstate_proceeding: return CSOFIASIP_CS_PROCEEDING;
    case nua_callstate_completing: return CSOFIASIP_CS_COMPLETING;
    case nua_callstate_received: return CSOFIASIP_CS_RECEIVED;
    case nua_callstate_early: return CSOFIASIP_CS_EARLY;
    case nua_callstate_completed: return CSOFIASIP_CS_COMPLETED;
    case nua_callstate_ready: return CSOFIASIP_CS_READY;
    case nua_callstate_terminating: return CSOFIASIP_CS_TERMINATING;
    case nua_callstate_terminated: return CSOFIASIP_CS_TERMINATED;
    }
    return CSOFIASIP_CS_INIT;
}

static const char *csofiasip_param(msg_param_t const *params, const char *name, char *buf, size_t buflen) {
    const char *v = msg_params_find(params, name);
    if (!v) return NULL;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') { v++; n -= 2; }
    if (n >= buflen) n = buflen - 1;
    memcpy(buf, v, n);
    buf[n] = 0;
    return buf;
}

static void csofiasip_callback(nua_event_t event, int status, char const *phrase, nua_t *nua,
                               struct csofiasip_agent *agent, nua_handle_t *nh, void *hmagic,
                               sip_t const *sip, tagi_t tags[]) {
    csofiasip_event ev;
    char request_uri[512], from_uri[512], to_uri[512], source_ip[64], realm[256], scheme[32], accept[256];
    memset(&ev, 0, sizeof ev);
    ev.kind = csofiasip_map_event(event);
    ev.nua_event = (int)event;
    ev.event_name = nua_event_name(event);
    ev.status = status;
    // Take the phrase from the parsed status line when there is one: it lives as long as `sip`.
    ev.phrase = (sip && sip->sip_status && sip->sip_status->st_phrase) ? sip->sip_status->st_phrase : phrase;
    ev.handle = nh;
    ev.handle_magic = hmagic;
    // A handle the stack made for an incoming request: the application owns it from now on.
    if (nh && !hmagic) {
        nua_handle_bind(nh, (nua_hmagic_t *)agent);
        __atomic_add_fetch(&agent->live_handles, 1, __ATOMIC_RELAXED);
    }

    if (event == nua_i_state) {
        int ss = nua_callstate_init;
        tl_gets(tags, NUTAG_CALLSTATE_REF(ss), TAG_END());
        ev.call_state = csofiasip_map_state(ss);
    }
    if (sip) {
        if (sip->sip_call_id) ev.call_id = sip->sip_call_id->i_id;
        if (sip->sip_cseq) { ev.cseq_method = sip->sip_cseq->cs_method_name; ev.cseq = sip->sip_cseq->cs_seq; }
        if (sip->sip_request) {
            url_e(request_uri, sizeof request_uri, sip->sip_request->rq_url);
            ev.request_uri = request_uri;
            ev.request_user = sip->sip_request->rq_url->url_user;
        }
        if (sip->sip_from) {
            url_e(from_uri, sizeof from_uri, sip->sip_from->a_url);
            ev.from_uri = from_uri;
            ev.from_user = sip->sip_from->a_url->url_user;
            ev.from_display = sip->sip_from->a_display;
            ev.from_tag = sip->sip_from->a_tag;
        }
        if (sip->sip_to) {
            url_e(to_uri, sizeof to_uri, sip->sip_to->a_url);
            ev.to_uri = to_uri;
            ev.to_user = sip->sip_to->a_url->url_user;
        }
        if (sip->sip_content_type) ev.content_type = sip->sip_content_type->c_type;
        if (sip->sip_payload) { ev.body = sip->sip_payload->pl_data; ev.body_len = sip->sip_payload->pl_len; }
        if (sip->sip_via && sip->sip_via->v_protocol) {
            const char *p = strrchr(sip->sip_via->v_protocol, '/');
            ev.transport = p ? p + 1 : sip->sip_via->v_protocol;
        }
        msg_auth_t const *au = sip->sip_www_authenticate;
        if (!au) au = (msg_auth_t const *)sip->sip_proxy_authenticate;
        if (au) {
            snprintf(scheme, sizeof scheme, "%s", au->au_scheme ? au->au_scheme : "Digest");
            ev.auth_scheme = scheme;
            ev.auth_realm = csofiasip_param(au->au_params, "realm=", realm, sizeof realm);
        }
        if (sip->sip_accept) {
            size_t used = 0;
            accept[0] = 0;
            for (sip_accept_t const *ac = sip->sip_accept; ac && used < sizeof accept - 1; ac = ac->ac_next) {
                if (!ac->ac_type) continue;
                int n = snprintf(accept + used, sizeof accept - used, "%s%s", used ? "," : "", ac->ac_type);
                if (n < 0) break;
                used += (size_t)n;
            }
            ev.accept = accept;
        }
        if (sip->sip_session_expires) {
            ev.session_expires = (unsigned)sip->sip_session_expires->x_delta;
            ev.session_expires_refresher = sip->sip_session_expires->x_refresher;
        }
    }
    // Where the request came from: the real packet source, not what the headers claim.
    if (event == nua_i_invite || event == nua_i_options || event == nua_i_bye) {
        msg_t *msg = nua_current_request(nua);
        su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
        if (ai && ai->ai_addr) {
            if (ai->ai_addr->sa_family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
                inet_ntop(AF_INET, &sin->sin_addr, source_ip, sizeof source_ip);
                ev.source_port = ntohs(sin->sin_port);
                ev.source_ip = source_ip;
            } else if (ai->ai_addr->sa_family == AF_INET6) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;
                inet_ntop(AF_INET6, &sin6->sin6_addr, source_ip, sizeof source_ip);
                ev.source_port = ntohs(sin6->sin6_port);
                ev.source_ip = source_ip;
            }
        }
    }

    if (agent->on_event) agent->on_event(agent->ctx, &ev);

    if (event == nua_r_set_params) agent->params_status = status ? status : 900;
    if (event == nua_r_shutdown) agent->shutdown_status = status;
    if (event == nua_r_shutdown && status >= 200) su_root_break(agent->root);
}

static int csofiasip_wakeup_ready(struct csofiasip_agent *agent, su_wait_t *w, su_wakeup_arg_t *arg) {
    (void)w; (void)arg;
    uint64_t value;
    while (read(agent->wakefd, &value, sizeof value) > 0) {}
    if (agent->on_wakeup) agent->on_wakeup(agent->ctx);
    return 0;
}

csofiasip_agent *csofiasip_agent_create(const csofiasip_options *opts, csofiasip_event_cb on_event,
                                        csofiasip_wakeup_cb on_wakeup, void *ctx, char *err, size_t errlen) {
    static int initialised = 0;
    if (!initialised) { su_init(); initialised = 1; }
    int level = opts->debug_level;
    su_log_set_level(su_log_default, level);
    su_log_set_level(nua_log, level);
    su_log_set_level(nta_log, level);
    su_log_set_level(tport_log, level);

    struct csofiasip_agent *agent = calloc(1, sizeof *agent);
    if (!agent) { snprintf(err, errlen, "out of memory"); return NULL; }
    su_home_init(agent->home);
    agent->on_event = on_event;
    agent->on_wakeup = on_wakeup;
    agent->ctx = ctx;
    agent->wakefd = -1;
    agent->root = su_root_create(agent);
    if (!agent->root) { snprintf(err, errlen, "su_root_create failed"); goto fail; }

    agent->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (agent->wakefd < 0) { snprintf(err, errlen, "eventfd: %s", strerror(errno)); goto fail; }
    if (su_wait_create(agent->wait, agent->wakefd, SU_WAIT_IN) < 0) { snprintf(err, errlen, "su_wait_create failed"); goto fail; }
    agent->wait_index = su_root_register(agent->root, agent->wait, csofiasip_wakeup_ready, NULL, 0);
    if (agent->wait_index <= 0) { snprintf(err, errlen, "su_root_register failed"); goto fail; }

    agent->nua = nua_create(agent->root, csofiasip_callback, agent,
                            NUTAG_URL(opts->bind_url),
                            TAG_IF(opts->user_agent, SIPTAG_USER_AGENT_STR(opts->user_agent)),
                            TAG_IF(opts->user_agent, SIPTAG_SERVER_STR(opts->user_agent)),
                            /* On a public port: no SIP message to a fax server needs more than
                             * 64 KiB (sofia's default lets one grow to megabytes); a TCP peer
                             * that stops mid-message is dropped after 10 s (slowloris). After a
                             * message its parser refuses, sofia stops reading the connection and
                             * never sees the peer's FIN: the CRLF keepalive ping (RFC 5626) is
                             * what finds such a connection dead and closes it; on a live one it
                             * is ignored (RFC 3261 7.5). The idle timer closes connections with
                             * no traffic at all; tport holds no reference for a dialog, so it
                             * must outlast the longest call (sofia's defaults: none of these). */
                            NTATAG_MAXSIZE(65536),
                            TPTAG_TIMEOUT(10000),
                            TPTAG_KEEPALIVE(opts->tcp_keepalive_ms ? opts->tcp_keepalive_ms : 30000),
                            TPTAG_IDLE(opts->tcp_idle_ms ? opts->tcp_idle_ms : 4200000),
                            TAG_END());
    if (!agent->nua) {
        snprintf(err, errlen, "cannot listen for SIP on %s (address in use or not local?)", opts->bind_url);
        goto fail;
    }
    // Media is ours: nua must not run its own SDP offer/answer (soa).
    nua_set_params(agent->nua,
                   NUTAG_MEDIA_ENABLE(0),
                   NUTAG_AUTOALERT(0),
                   NUTAG_AUTOANSWER(0),
                   NUTAG_AUTOACK(1),
                   NUTAG_ENABLEINVITE(1),
                   /* OPTIONS is answered by faxd (csofiasip_respond_current), not by nua's own
                    * 200: a draining or full node says 503 so a load balancer's probe moves
                    * calls elsewhere. The tag adds to nua's list (INVITE...), it does not replace it. */
                   NUTAG_APPL_METHOD("OPTIONS"),
                   /* SIPTAG_ALLOW_STR replaces nua's list (NUTAG_ALLOW only adds to it). nua then
                    * answers every method not listed with 405 itself: without it nua accepted
                    * MESSAGE with 200 and REFER with 202, and then sent NOTIFYs to whoever asked. */
                   TAG_IF(opts->allow, SIPTAG_ALLOW_STR(opts->allow)),
                   NUTAG_SESSION_TIMER(opts->session_timer),
                   NUTAG_SESSION_REFRESHER(nua_remote_refresher),
                   NUTAG_UPDATE_REFRESH(1),
                   TAG_END());
    /* nua applies parameters asynchronously: until it has, a request would meet nua's defaults
     * (its own media handling, MESSAGE accepted). Run the loop until they are in, and refuse to
     * start when nua rejected them. */
    for (int i = 0; i < 100 && agent->params_status == 0; i++) su_root_step(agent->root, 50);
    if (agent->params_status != 200) {
        snprintf(err, errlen, "sofia-sip refused faxd's SIP parameters (nua_set_params: %d)", agent->params_status);
        /* nua_destroy aborts unless nua_shutdown has completed. */
        agent->shutdown_status = 0;
        nua_shutdown(agent->nua);
        for (int i = 0; i < 100 && agent->shutdown_status < 200; i++) su_root_step(agent->root, 50);
        goto fail;
    }
    return agent;
fail:
    csofiasip_agent_destroy(agent);
    return NULL;
}

static void csofiasip_guard_expired(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg) {
    (void)t; (void)arg;
    su_root_break(((struct csofiasip_agent *)magic)->root);
}

void csofiasip_agent_run(csofiasip_agent *agent) { su_root_run(agent->root); }

void csofiasip_agent_wakeup(csofiasip_agent *agent) {
    uint64_t one = 1;
    ssize_t n = write(agent->wakefd, &one, sizeof one);
    (void)n;
}

void csofiasip_agent_shutdown(csofiasip_agent *agent) {
    nua_shutdown(agent->nua);
    agent->guard = su_timer_create(su_root_task(agent->root), 5000);
    if (agent->guard) su_timer_set(agent->guard, csofiasip_guard_expired, NULL);
}

void csofiasip_agent_destroy(csofiasip_agent *agent) {
    if (!agent) return;
    if (agent->guard) su_timer_destroy(agent->guard);
    if (agent->nua) nua_destroy(agent->nua);
    if (agent->root && agent->wait_index > 0) su_root_deregister(agent->root, agent->wait_index);
    if (agent->root) su_root_destroy(agent->root);
    if (agent->wakefd >= 0) close(agent->wakefd);
    su_home_deinit(agent->home);
    free(agent);
}

/* nua_respond keeps the phrase pointer, not a copy, until the stack (on its own thread) has built
 * the response: only sofia's static phrases are safe. A temporary from Swift went out under load
 * as "SIP/2.0 200 0\n2". */
void csofiasip_respond(void *handle, int status, const char *content_type,
                       const char *body, const char *extra_headers) {
    const char *phrase = sip_status_phrase(status);
    nua_respond((nua_handle_t *)handle, status, phrase ? phrase : "Unknown",
                TAG_IF(body, SIPTAG_CONTENT_TYPE_STR(content_type ? content_type : "application/sdp")),
                TAG_IF(body, SIPTAG_PAYLOAD_STR(body)),
                TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
                TAG_END());
}

/* nua matches a response to anything but an INVITE by its request message (NUTAG_WITH):
 * NUTAG_WITH_THIS names the request of the event being delivered, so this works only inside the
 * event callback. */
void csofiasip_respond_current(csofiasip_agent *agent, void *handle, int status, const char *extra_headers) {
    const char *phrase = sip_status_phrase(status);
    nua_respond((nua_handle_t *)handle, status, phrase ? phrase : "Unknown",
                NUTAG_WITH_THIS(agent->nua),
                TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
                TAG_END());
}

void *csofiasip_invite(csofiasip_agent *agent, const char *request_uri, const char *from,
                       const char *to, const char *route, const char *content_type, const char *body,
                       const char *extra_headers) {
    nua_handle_t *nh = nua_handle(agent->nua, (nua_hmagic_t *)agent,
                                  NUTAG_URL(request_uri),
                                  TAG_IF(to, SIPTAG_TO_STR(to)),
                                  TAG_IF(!to, SIPTAG_TO_STR(request_uri)),
                                  TAG_IF(from, SIPTAG_FROM_STR(from)),
                                  TAG_END());
    if (!nh) return NULL;
    __atomic_add_fetch(&agent->live_handles, 1, __ATOMIC_RELAXED);
    nua_invite(nh,
               TAG_IF(route, NUTAG_INITIAL_ROUTE_STR(route)),
               TAG_IF(body, SIPTAG_CONTENT_TYPE_STR(content_type ? content_type : "application/sdp")),
               TAG_IF(body, SIPTAG_PAYLOAD_STR(body)),
               TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
               TAG_END());
    return nh;
}

void csofiasip_reinvite(void *handle, const char *content_type, const char *body) {
    nua_invite((nua_handle_t *)handle,
               TAG_IF(body, SIPTAG_CONTENT_TYPE_STR(content_type ? content_type : "application/sdp")),
               TAG_IF(body, SIPTAG_PAYLOAD_STR(body)),
               TAG_END());
}

const char *csofiasip_status_phrase(int status) { return sip_status_phrase(status); }

void csofiasip_bye(void *handle) { nua_bye((nua_handle_t *)handle, TAG_END()); }
void csofiasip_cancel(void *handle) { nua_cancel((nua_handle_t *)handle, TAG_END()); }
void csofiasip_authenticate(void *handle, const char *credentials) {
    nua_authenticate((nua_handle_t *)handle, NUTAG_AUTH(credentials), TAG_END());
}
void csofiasip_handle_destroy(void *handle) {
    struct csofiasip_agent *agent = (struct csofiasip_agent *)nua_handle_magic((nua_handle_t *)handle);
    if (agent) __atomic_sub_fetch(&agent->live_handles, 1, __ATOMIC_RELAXED);
    nua_handle_destroy((nua_handle_t *)handle);
}
long csofiasip_agent_live_handles(csofiasip_agent *agent) {
    return __atomic_load_n(&agent->live_handles, __ATOMIC_RELAXED);
}
