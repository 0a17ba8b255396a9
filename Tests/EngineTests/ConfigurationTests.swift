import Engine
import Fax
import FaxdTesting
import Foundation
import SIP
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsNeedNoFile() {
        let config = FaxdConfiguration()
        #expect(config.sip.listenHost == "127.0.0.1" && config.sip.listenPort == 5060)
        #expect(config.dataDirectory == "./faxd-data")
        #expect(config.receiveDirectory == "./faxd-data/fax_files/rx")
        #expect(config.trunk(admitting: "127.0.0.1")?.name == "loopback")
        #expect(config.trunk(admitting: "::1")?.name == "loopback")
        #expect(config.trunk(admitting: "192.0.2.1") == nil)
        #expect(config.fax.ecm)
    }

    @Test func theExampleFileParsesToTheDefaults() throws {
        let example = try FaxdConfiguration.load(path: Fixtures.root.appendingPathComponent("conf/faxd.example.yaml").path)
        #expect(example == FaxdConfiguration(), "conf/faxd.example.yaml documents the defaults")
    }

    @Test func readsEveryKind() throws {
        let config = try FaxdConfiguration.parse(yaml: """
        data_dir: /var/lib/faxd
        sip: { listen: "[::1]:5070", public_address: 203.0.113.9, answer_delay_ms: 500, user_agent: acme-fax,
               no_answer_timeout_s: 45, session_timer_s: 1800, debug_level: 3, invite_rate_per_source: 5.5, invite_burst_per_source: 11,
               tcp_keepalive_s: 20, domains: [Fax.Example.COM, 198.51.100.7] }
        media: { rtp_ports: 30000-30999, shards: 4, jitter_ms: 40, silence_timeout_s: 5, max_call_s: 900 }
        fax: { ecm: false, modems: [v29, v27ter], compressions: [t4_1d, t4_2d], station_id: "+1 555 0100", header: ACME,
               debug_level: 2 }
        t38: { redundancy: 2, fec: true, max_datagram: 300, max_bit_rate: 9600, request_delay_ms: 500, silence_timeout_s: 15 }
        trunks:
          - name: carrier
            inbound_sources: [198.51.100.0/24]
            outbound_proxy: sip:198.51.100.10:5060
            domain: carrier.example
            username: acme
            password: pw
            caller_id: "15550100"
            max_calls: 30
            codecs: [PCMA]
            t38: request
            record: true
        """)
        #expect(config.dataDirectory == "/var/lib/faxd")
        #expect(config.sip.listenHost == "::1" && config.sip.listenPort == 5070)
        #expect(config.sip.publicAddress == "203.0.113.9")
        #expect(config.sip.answerDelayMilliseconds == 500 && config.sip.userAgent == "acme-fax")
        #expect(config.sip.noAnswerTimeoutSeconds == 45 && config.sip.sessionTimerSeconds == 1800 && config.sip.debugLevel == 3)
        #expect(config.sip.inviteRatePerSource == 5.5 && config.sip.inviteBurstPerSource == 11)
        #expect(config.sip.tcpKeepaliveSeconds == 20 && config.sip.domains == ["fax.example.com", "198.51.100.7"])
        #expect(config.media.rtpPortLow == 30000 && config.media.rtpPortHigh == 30999 && config.media.shards == 4)
        #expect(config.media.jitterMilliseconds == 40 && config.media.silenceTimeoutSeconds == 5 && config.media.maxCallSeconds == 900)
        #expect(config.fax.debugLevel == 2)
        #expect(config.t38.redundancy == 2 && config.t38.fec && config.t38.maxDatagram == 300 && config.t38.maxBitRate == 9600)
        #expect(config.t38.requestDelayMilliseconds == 500 && config.t38.silenceTimeoutSeconds == 15)
        #expect(!config.fax.ecm && config.fax.modems == [.v29, .v27ter] && config.fax.compressions == [.t4OneD, .t4TwoD])
        #expect(config.fax.stationID == "+1 555 0100" && config.fax.headerInfo == "ACME")
        let trunk = try #require(config.trunk(named: "carrier"))
        #expect(trunk.allows(source: "198.51.100.20") && !trunk.allows(source: "127.0.0.1"))
        #expect(trunk.maxCalls == 30 && trunk.codecs == [.pcma] && trunk.t38 == .request && trunk.record)
        #expect(trunk.outboundProxy == "sip:198.51.100.10:5060" && trunk.domain == "carrier.example")
        #expect(trunk.username == "acme" && trunk.password == "pw" && trunk.callerID == "15550100")
    }

    @Test func readsEveryHTTPKey() throws {
        let config = try FaxdConfiguration.parse(yaml: """
        http: { listen: "0.0.0.0:9090", admin_token: "0123456789abcdefXYZ", max_upload_bytes: 4096, max_pages: 7,
                rate_limit_per_s: 2.5, rate_limit_burst: 9, conversion_timeout_s: 12 }
        """)
        let h = config.http
        #expect(h.listenHost == "0.0.0.0" && h.listenPort == 9090 && h.adminToken == "0123456789abcdefXYZ")
        #expect(h.maxUploadBytes == 4096 && h.maxPages == 7 && h.rateLimitPerSecond == 2.5 && h.rateLimitBurst == 9 && h.conversionTimeoutSeconds == 12)
        #expect(throws: ConfigurationError.self) { try FaxdConfiguration.parse(yaml: "http: { admin_token: short }") }
    }

    @Test func readsEveryDeliveryKey() throws {
        let config = try FaxdConfiguration.parse(yaml: """
        delivery:
          smtp: { host: mail.example, port: 2525, from: "Fax <fax@example.com>", username: u, password: p, starttls: required,
                  ca_file: /etc/faxd/ca.pem, timeout_s: 20, helo_name: fax.example }
          webhook_timeout_s: 7
          retry_delays_s: [1, 2.5, 60]
          jitter: 0.3
          give_up_after_s: 3600
          disable_after_failures: 9
          concurrency: 3
          poll_interval_ms: 500
          allow_private_targets: true
        """)
        let d = config.delivery
        #expect(d.smtp.host == "mail.example" && d.smtp.port == 2525 && d.smtp.from == "Fax <fax@example.com>")
        #expect(d.smtp.username == "u" && d.smtp.password == "p" && d.smtp.startTLS == .required && d.smtp.caFile == "/etc/faxd/ca.pem")
        #expect(d.smtp.timeoutSeconds == 20 && d.smtp.heloName == "fax.example")
        #expect(d.webhookTimeoutSeconds == 7 && d.retryDelaysSeconds == [1, 2.5, 60] && d.jitter == 0.3 && d.giveUpAfterSeconds == 3600)
        #expect(d.disableAfterFailures == 9 && d.concurrency == 3 && d.pollIntervalMilliseconds == 500 && d.allowPrivateTargets)
    }

    @Test func readsEveryProcessingKey() throws {
        let config = try FaxdConfiguration.parse(yaml: """
        trunks: [ { name: carrier, domain: carrier.example } ]
        processing:
          catch_all_account: "+1 555 000 0000"
          send_trunk: carrier
          account_concurrency: 4
          scheduler_interval_ms: 250
          plan_limit: allow
          pdf: false
          account_inbound_calls: 3
          min_free_mb: 500
          node_lease_s: 9
          node_max_sends: 12
          forget_dead_node_s: 600
          rates_cents: { us_canada: 7, uk: 12, international: 25 }
          retry: { max_attempts: 3, busy_delay_s: 90, no_answer_delay_s: 120, protocol_delay_s: 30, congestion_delay_s: 45,
                   multiplier: 1.5, cap_s: 600, jitter: 0.2, final_sip_statuses: [404, 603], ladder: [v17_off] }
        """)
        let p = config.processing
        #expect(p.catchAllAccount == "15550000000" && p.sendTrunk == "carrier" && p.accountConcurrency == 4)
        #expect(p.schedulerIntervalMilliseconds == 250 && p.planLimit == .allow && !p.pdf)
        #expect(p.accountInboundCalls == 3 && p.minFreeMegabytes == 500)
        #expect(p.nodeLeaseSeconds == 9 && p.nodeMaxSends == 12 && p.forgetDeadNodeSeconds == 600)
        #expect(p.rates.usCanadaCents == 7 && p.rates.ukCents == 12 && p.rates.internationalCents == 25)
        #expect(p.retry.maxAttempts == 3 && p.retry.delays[.busy] == 90 && p.retry.delays[.noAnswer] == 120)
        #expect(p.retry.delays[.protocol] == 30 && p.retry.delays[.congestion] == 45)
        #expect(p.retry.multiplier == 1.5 && p.retry.capSeconds == 600 && p.retry.jitter == 0.2)
        #expect(p.retry.finalSIPStatuses == [404, 603] && p.retry.ladder == [.v17Off])
    }

    @Test(arguments: [
        ("sip: { listne: 1.2.3.4:5060 }", "sip.listne: unknown key"),
        ("media: { rtp_ports: 30000 }", "media.rtp_ports: '30000' must be LOW-HIGH"),
        ("media: { jitter_ms: 5 }", "media.jitter_ms: 5 is out of range 20...200"),
        ("fax: { modems: [v34] }", "fax.modems: 'v34' is not a modem"),
        ("fax: { compressions: [t6] }", "t4_1d is mandatory"),
        ("fax: { station_id: 'way too long for a fax station id' }", "fax.station_id"),
        ("trunks: [ { name: a, inbound_sources: [300.1.1.1] } ]", "trunks[0].inbound_sources: '300.1.1.1' is not an IP address"),
        ("trunks: [ { name: a, codecs: [G729] } ]", "trunks[0].codecs: 'G729' is not supported"),
        ("trunks: [ { name: a, t38: maybe } ]", "trunks[0].t38: 'maybe' must be off, accept or request"),
        ("trunks: [ { name: a }, { name: a } ]", "trunks[1].name: 'a' is used twice"),
        ("trunks: [ { name: a, outbound_proxy: 198.51.100.1 } ]", "must be a SIP URI"),
        ("- just a list", "the top level must be a mapping"),
        ("processing: { send_trunk: nowhere }", "processing.send_trunk: no trunk is named 'nowhere'"),
        ("processing: { plan_limit: maybe }", "processing.plan_limit: 'maybe' must be reject or allow"),
        ("processing: { catch_all_account: abc }", "processing.catch_all_account: 'abc' is not a phone number"),
        ("processing: { retry: { ladder: [fax_off] } }", "processing.retry.ladder: 'fax_off' must be ecm_off, v17_off or t38_off"),
        ("processing: { retry: { final_sip_statuses: [200] } }", "'200' is not a SIP status 300...699"),
        ("processing: { retry: { jitter: 2 } }", "processing.retry.jitter: 2.0 is out of range"),
        ("delivery: { smtp: { starttls: maybe } }", "delivery.smtp.starttls: 'maybe' must be auto, required or never"),
        ("delivery: { smtp: { username: u } }", "delivery.smtp: username and password go together"),
        ("delivery: { smtp: { from: nobody } }", "delivery.smtp.from: 'nobody' is not an email address"),
        ("delivery: { retry_delays_s: [] }", "delivery.retry_delays_s: list at least one delay"),
    ])
    func rejectsMistakesByName(yaml: String, message: String) {
        do {
            _ = try FaxdConfiguration.parse(yaml: yaml)
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
