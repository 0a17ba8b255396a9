import Foundation
import Store
import Synchronization

/// Where voice calls' states live while they run, and what makes their events durable: each
/// event or command goes through the call's `VoiceCallState`; the actions that are records (a
/// new state, a webhook) are written in one store transaction (the `voice_calls` row and one
/// outbox entry per subscribed endpoint, Telnyx envelope, signed by the existing dispatcher);
/// the others (SIP messages, media commands, timers) are returned for the caller to carry out.
/// The SIP glue will call it from the processing side; it never runs on a shard or the SIP thread.
public final class VoiceLedger: Sendable {
    private let store: FaxStore
    private let onQueued: @Sendable () -> Void
    private let states = Mutex<[String: (state: VoiceCallState, sequence: Int)]>([:])

    /// `onQueued` runs after a transaction that queued webhooks (the service pokes its dispatcher).
    public init(store: FaxStore, onQueued: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.onQueued = onQueued
    }

    /// Starts tracking a call already inserted in `voice_calls`, in the state machine's start.
    public func track(_ call: VoiceCall) {
        states.withLock { $0[call.callControlID] = (VoiceCallState(direction: call.direction, clientState: call.clientState), 0) }
    }

    /// Calls being tracked (an ended call stays until `forget`: a recording may still be saved).
    public var tracked: Int { states.withLock { $0.count } }

    /// Applies a SIP-side event to call `callControlID`: records its state changes and webhooks,
    /// returns the actions left to the caller. Unknown calls give no actions.
    @discardableResult
    public func apply(_ event: VoiceCallState.Event, to callControlID: String, now: Date = Date()) throws -> [VoiceCallState.Action] {
        try step(callControlID, now: now) { $0.handle(event) } ?? []
    }

    /// Queues a webhook that is not a state change (a digit, a playback, a saved recording) for
    /// a tracked call, ended or not; false for a call not tracked.
    @discardableResult
    public func report(_ webhook: VoiceWebhookEvent, to callControlID: String, now: Date = Date()) throws -> Bool {
        try step(callControlID, now: now) { _ in [.emit(webhook)] } != nil
    }

    /// The call's state machine as it stands, if tracked.
    public func state(of callControlID: String) -> VoiceCallState? {
        states.withLock { $0[callControlID]?.state }
    }

    /// Stops tracking a call (its leg is over and nothing more will be reported).
    public func forget(_ callControlID: String) {
        states.withLock { _ = $0.removeValue(forKey: callControlID) }
    }

    /// Applies an application command (after its `command_id` was claimed): the refusal is
    /// thrown unchanged (a 422 that changes nothing), else as `apply`.
    @discardableResult
    public func command(_ command: VoiceCallCommand, clientState: String?, to callControlID: String,
                        now: Date = Date()) throws -> [VoiceCallState.Action] {
        guard let actions = try step(callControlID, now: now, { try $0.handle(command, clientState: clientState) }) else {
            throw VoiceCommandError(.callEnded, "call \(callControlID.prefix(80)) is not in progress")
        }
        if let clientState { try store.write { try $0.setVoiceCallClientState(callControlID: callControlID, clientState: clientState, now: now) } }
        return actions
    }

    /// One step of a tracked call's state machine: `change` runs under the lock, its records are
    /// written, an ended call is dropped, and the caller's actions are returned; nil for a call
    /// that is not tracked.
    private func step(_ id: String, now: Date, _ change: (inout VoiceCallState) throws -> [VoiceCallState.Action]) throws
        -> [VoiceCallState.Action]? {
        guard let (actions, state, first) = try states.withLock({ calls -> ([VoiceCallState.Action], VoiceCallState, Int)? in
            guard var entry = calls[id] else { return nil }
            let actions = try change(&entry.state)
            let first = entry.sequence
            entry.sequence += actions.filter { if case .emit = $0 { return true } else { return false } }.count
            calls[id] = entry
            return (actions, entry.state, first)
        }) else { return nil }
        try record(actions, of: id, state: state, firstSequence: first, now: now)
        return actions.filter(Self.isForCaller)
    }

    /// One transaction: the new state with its times and hangup fields, then each webhook's
    /// outbox entries for the call's account's subscribed endpoints (ids stable per call,
    /// event and sequence number, so a replay never queues twice).
    private func record(_ actions: [VoiceCallState.Action], of id: String, state: VoiceCallState, firstSequence: Int, now: Date) throws {
        var sequence = firstSequence
        var queued = false
        try store.write { db in
            for action in actions {
                switch action {
                case .changeState(let new):
                    let hangup = state.hangup.map { (cause: $0.cause, source: $0.source, sipCause: $0.sipCause) }
                    _ = try db.setVoiceCallState(callControlID: id, to: new, at: now, hangup: new == .ended ? hangup : nil)
                case .emit(let event):
                    guard let call = try db.voiceCall(callControlID: id) else { continue }
                    // Disabled endpoints get their entries too: they wait, in order, until enabled (as for faxes).
                    let hooks = try db.webhooks(accountID: call.accountID)
                    let eventID = "\(id):\(event.type.rawValue):\(sequence)"
                    for entry in VoiceWebhookEnvelope.entries(for: event, call: call, webhooks: hooks, eventID: eventID,
                                                               sequence: sequence, now: now) where try db.enqueue(entry) {
                        queued = true
                    }
                    sequence += 1
                default:
                    break
                }
            }
        }
        if queued { onQueued() }
    }

    /// Actions that are not records: SIP messages, timers, media commands.
    static func isForCaller(_ action: VoiceCallState.Action) -> Bool {
        switch action {
        case .emit, .changeState: return false
        default: return true
        }
    }
}
