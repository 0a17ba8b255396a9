import Dispatch
import Fax
import Foundation
import Media
import SIP

/// T.38 negotiation (ITU-T T.38 Annex D): answering the far end's switch, asking for it ourselves,
/// glare, refusals, and moving a call from its audio channel to a T.38 channel. Agent thread.
extension CallOrchestrator {
    /// Our T.38 parameters for an offer or answer on this call, nil when T.38 is off for it.
    func localT38(_ call: Call) -> T38Parameters? {
        call.t38Mode == .off ? nil : configuration.t38.localParameters
    }

    /// Moves the call to T.38 on the same UDP port: the audio channel (if any) hands over and a
    /// fresh T.30 session starts on a T.38 terminal.
    func startT38(_ call: Call, plan: NegotiatedImage, requestedBy: String) {
        guard let socket = call.socket, let job = call.job else { return }
        let handle = call.handle
        let errorCorrection: UDPTLErrorCorrection = switch plan.agreed.udpErrorCorrection {
        case .fec: .fec(span: 3, entries: 3)
        case .redundancy: .redundancy(depth: max(1, configuration.t38.redundancy))
        case .none: .none
        }
        let settings = configuration.media
        let channel: T38Channel
        do {
            channel = try T38Channel(transport: socket, job: job, callingParty: call.callingParty, options: call.options,
                                     errorCorrection: errorCorrection, farMaxDatagram: plan.farMaxDatagram,
                                     t38Version: plan.agreed.version, maxBitRate: plan.agreed.maxBitRate ?? 14400,
                                     silenceTimeoutSeconds: configuration.t38.silenceTimeoutSeconds,
                                     maxCallSeconds: settings.maxCallSeconds, progress: call.progress) { [agent] report in
                agent.post { [self] in channelFinished(handle, report) }
            }
        } catch {
            hangUp(call, cause: .setupFailed, detail: "cannot start T.38: \(error)")
            return
        }
        call.transport = "t38"
        call.t38 = plan.agreed
        call.t38RequestedBy = requestedBy
        call.terminal = nil
        let previous = call.audioChannel
        let shard = call.shard ?? media.leastLoadedShard()
        call.shard = shard
        call.channel = channel
        let host = plan.remoteHost, port = plan.remotePort
        shard.perform {
            if let tones = previous?.handOver() { channel.inherit(tones: tones) }
            try? socket.setRemote(host: host, port: port)
            socket.relearnSource()
        }
        shard.add(channel)
        logger.info("T.38 started", metadata: ["uuid": "\(call.uuid)", "requested_by": "\(requestedBy)",
                                              "udp_ec": "\(plan.agreed.udpErrorCorrection.rawValue)",
                                              "far_max_datagram": "\(plan.farMaxDatagram)"])
    }

    /// With `t38: request`: re-INVITE to T.38 after the answer. Outbound: at once. Inbound: as soon
    /// as the sender's CNG is heard, or after `request_delay_ms` if no CNG comes (not every sender
    /// sends one), while our CED goes out.
    func scheduleT38Request(_ call: Call) {
        let delay = call.direction == .inbound ? configuration.t38.requestDelayMilliseconds : 0
        let handle = call.handle
        if call.direction == .inbound, let channel = call.audioChannel, let shard = call.shard {
            shard.perform { [agent] in
                channel.notifyOnCNG {
                    agent.post { [self] in
                        if let call = calls[handle] { sendT38Request(call, trigger: "CNG") }
                    }
                }
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in
            agent.post { [self] in
                if let call = calls[handle] { sendT38Request(call, trigger: delay == 0 ? "answer" : "timer") }
            }
        }
    }

    /// Sends our T.38 re-INVITE once (`retry` for the one attempt after a 491).
    func sendT38Request(_ call: Call, trigger: String, retry: Bool = false) {
        guard call.phase == .answered, call.transport == "g711", !call.t38RequestPending,
              call.t38Attempts == 0 || retry,
              let local = call.localSDP, let socket = call.socket, call.audioChannel != nil else { return }
        var offer = SessionDescription.imageOffer(origin: local.origin, address: sdpAddress, port: socket.localPort,
                                                  t38: configuration.t38.localParameters)
        offer.origin.bumpVersion()
        call.sdpBeforeRequest = local
        call.localSDP = offer
        call.t38RequestPending = true
        call.t38RequestSentAt = Date()
        call.t38RequestTrigger = trigger
        call.t38Attempts += 1
        logger.info("requesting T.38", metadata: ["uuid": "\(call.uuid)", "attempt": "\(call.t38Attempts)", "trigger": "\(trigger)"])
        agent.reinvite(call.handle, sdp: offer.render())
    }

    /// The answer to our T.38 re-INVITE: 2xx switches; 491 backs off and retries once; anything
    /// else keeps the fax in audio (RFC 3261 section 14.1).
    func t38RequestAnswered(_ call: Call, _ event: SIPEvent) {
        guard event.status >= 200 else { return }
        call.t38RequestPending = false
        if let sent = call.t38RequestSentAt {
            call.t38AnswerMilliseconds = Int((Date().timeIntervalSince(sent) * 1000).rounded())
        }
        if (200..<300).contains(event.status) {
            if case .sdp(let body) = event.offer, let answer = try? SessionDescription(parsing: body), let offered = call.localSDP,
               case .image(let image)? = try? SDPNegotiator.readAnswer(answer, to: offered, local: answerCapabilities(call)) {
                startT38(call, plan: image, requestedBy: "local")
                return
            }
            refuseT38(call, "the 200 OK did not accept the image stream")
            return
        }
        if event.status == 491 && call.t38Attempts < 2 {
            restoreSDP(call)
            // RFC 3261 14.1: the owner of the Call-ID (who sent the first INVITE) waits 2.1-4 s, the other 0-2 s.
            let wait = call.direction == .outbound ? Double.random(in: 2.1...4.0) : Double.random(in: 0...2.0)
            logger.info("T.38 re-INVITE glare (491), retrying", metadata: ["uuid": "\(call.uuid)", "after_s": "\(String(format: "%.2f", wait))"])
            let handle = call.handle
            DispatchQueue.global().asyncAfter(deadline: .now() + wait) { [self] in
                agent.post { [self] in
                    if let call = calls[handle] { sendT38Request(call, trigger: "491 retry", retry: true) }
                }
            }
            return
        }
        refuseT38(call, "\(event.status) \(event.phrase)")
    }

    private func refuseT38(_ call: Call, _ reason: String) {
        call.t38Refused = reason
        restoreSDP(call)
        logger.info("T.38 refused, staying in audio", metadata: ["uuid": "\(call.uuid)", "reason": "\(reason)"])
    }

    /// Back to the SDP before the failed offer, keeping the version number rising.
    private func restoreSDP(_ call: Call) {
        guard var previous = call.sdpBeforeRequest, let current = call.localSDP else { return }
        previous.origin.sessionVersion = current.origin.sessionVersion
        call.localSDP = previous
        call.sdpBeforeRequest = nil
    }
}
