import Foundation
import Synchronization

/// Ctrl-C or SIGTERM during training: the first signal asks the loop to stop at the end of the current step (it
/// then saves a checkpoint and marks the run interrupted); a second one exits at once with 128 + the signal.
///
/// SIGTERM is what `timeout`, systemd, `docker stop` and Slurm send before they kill, so it is handled exactly
/// like Ctrl-C. After a second signal the run's row still says `running`, but its lock dies with the process,
/// so `strata runs list` shows it as interrupted (process gone).
public enum Interrupt {
    // The one process-wide state: a signal handler cannot capture context, so it must be static.
    private static let requested = Atomic<Int>(0)
    private static let firstSignal = Atomic<Int32>(0)

    /// Installs the SIGINT and SIGTERM handlers (idempotent).
    public static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number) { received in
                _ = Interrupt.firstSignal.compareExchange(expected: 0, desired: received, ordering: .relaxed)
                if Interrupt.requested.add(1, ordering: .relaxed).newValue >= 2 { _exit(128 + received) }
            }
        }
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { requested.load(ordering: .relaxed) > 0 }

    /// The exit status a command should end with after an interrupted run: 128 + the first signal's number
    /// (130 for SIGINT, 143 for SIGTERM), the shell convention; 130 when the stop came from elsewhere.
    public static var exitStatus: Int32 {
        let number = firstSignal.load(ordering: .relaxed)
        return number > 0 ? 128 + number : 128 + SIGINT
    }
}
