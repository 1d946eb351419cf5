#if canImport(Glibc)
    import Glibc
#endif

/// One entry of a seccomp allow-list: a system call, the argument values it is taken with (all
/// of `conditions` must hold; none: always), and what happens then — it runs, or it fails with
/// an errno instead of stopping the VMM. Calls that no rule matches stop the VMM (the filter's
/// default, `FilterMode.enforce`).
package struct SeccompRule: Sendable, Hashable, CustomStringConvertible {
    /// What a matching call does.
    package enum Outcome: Sendable, Hashable {
        case allow
        /// The call returns -1 with this errno (for calls glibc or a library makes on its own
        /// and copes with failing, and for refusals that should not end the guest).
        case fail(errno: Int32)
    }

    /// A comparison of one argument: `(argument & mask) == value`.
    package struct Condition: Sendable, Hashable {
        package let argument: UInt32
        package let mask: UInt64
        package let value: UInt64

        /// Argument `index` equals `value`.
        package static func argument(_ index: UInt32, equals value: UInt64) -> Condition {
            Condition(argument: index, mask: ~0, value: value)
        }

        /// Argument `index`, masked with `mask`, equals `value`.
        package static func argument(_ index: UInt32, masked mask: UInt64, equals value: UInt64) -> Condition {
            Condition(argument: index, mask: mask, value: value & mask)
        }
    }

    package let call: String
    package let outcome: Outcome
    package let conditions: [Condition]

    package init(_ call: String, _ outcome: Outcome = .allow, when conditions: [Condition] = []) {
        self.call = call
        self.outcome = outcome
        self.conditions = conditions
    }

    package var description: String {
        let outcome: String
        switch self.outcome {
        case .allow: outcome = "allow"
        case .fail(let code): outcome = "fail with errno \(code)"
        }
        let conditions = self.conditions.map { condition in
            condition.mask == ~0
                ? "arg\(condition.argument) == 0x\(String(condition.value, radix: 16))"
                : "arg\(condition.argument) & 0x\(String(condition.mask, radix: 16))"
                    + " == 0x\(String(condition.value, radix: 16))"
        }
        return conditions.isEmpty
            ? "\(call): \(outcome)" : "\(call) when \(conditions.joined(separator: ", ")): \(outcome)"
    }
}

extension SeccompRule {
    /// `calls`, always allowed.
    package static func allow(_ calls: [String]) -> [SeccompRule] {
        calls.map { SeccompRule($0) }
    }

    /// `calls`, always failing with `errno`.
    package static func fail(_ calls: [String], errno: Int32) -> [SeccompRule] {
        calls.map { SeccompRule($0, .fail(errno: errno)) }
    }

    /// `call` allowed while argument `index` has none of the bits of `forbidden` set, failing
    /// with `errno` when it has any (one rule per bit: libseccomp ORs rules of one outcome).
    package static func allow(
        _ call: String, argument index: UInt32, withoutBits forbidden: UInt64, otherwiseErrno errno: Int32
    ) -> [SeccompRule] {
        var rules = [SeccompRule(call, when: [.argument(index, masked: forbidden, equals: 0)])]
        for bit in 0..<64 where forbidden & (1 << UInt64(bit)) != 0 {
            let mask = UInt64(1) << UInt64(bit)
            rules.append(SeccompRule(call, .fail(errno: errno), when: [.argument(index, masked: mask, equals: mask)]))
        }
        return rules
    }

    /// `call` allowed when argument `index` is one of `values`.
    package static func allow(_ call: String, argument index: UInt32, oneOf values: [UInt64]) -> [SeccompRule] {
        values.map { SeccompRule(call, when: [.argument(index, equals: $0)]) }
    }
}

extension SeccompRule {
    /// What `rules` do with `call` made with `arguments` (absent ones are 0): the outcome of the
    /// rules that match (an errno before allow, as the kernel ranks them), or nil — no rule
    /// matches and the filter's default applies (the VMM stops). For tests and explanations;
    /// the kernel evaluates the loaded filter.
    package static func outcome(of call: String, arguments: [UInt64], in rules: [SeccompRule]) -> Outcome? {
        let matching = rules.filter { rule in
            rule.call == call
                && rule.conditions.allSatisfy { condition in
                    let index = Int(condition.argument)
                    let value = index < arguments.count ? arguments[index] : 0
                    return value & condition.mask == condition.value
                }
        }
        if let failing = matching.first(where: { $0.outcome != .allow }) { return failing.outcome }
        return matching.isEmpty ? nil : .allow
    }
}
