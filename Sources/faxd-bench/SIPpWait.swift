import Dispatch
import FaxdTesting

extension SIPp.Running {
    /// Waits for the SIPp run from synchronous code (the benchmarks are synchronous commands);
    /// status -1 when it has not finished within `timeout` seconds.
    func waitSynchronously(timeout: Double = 60) -> (status: Int32, output: String) {
        let done = DispatchSemaphore(value: 0)
        let box = SIPpResultBox()
        Task { box.result = await self.result(); done.signal() }
        if done.wait(timeout: .now() + timeout) == .timedOut { return (-1, "SIPp did not finish within \(Int(timeout)) s of the hangups") }
        return (box.result?.status ?? -1, box.result?.output ?? "")
    }
}

private final class SIPpResultBox: @unchecked Sendable { var result: SIPp.Result? }
