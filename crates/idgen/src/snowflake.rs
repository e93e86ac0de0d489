//! Snowflake-style 64-bit IDs: layout, generator and parser.
//!
//! An ID is, from the most significant bit: a zero sign bit (so IDs stay
//! positive as signed 64-bit integers, which Redis clients and most databases
//! expect), the milliseconds since a configurable epoch, a datacenter number,
//! a worker number and a per-millisecond sequence. Because the timestamp is in
//! the high bits, IDs from one generator sort by creation time; because the
//! generator never issues the same (timestamp, sequence) pair twice and never
//! moves its timestamp backwards, they are strictly increasing.
//!
//! The generator does not sleep: when it cannot issue an ID yet (sequence
//! exhausted, or the clock slightly behind) it returns [`Next::WaitUntil`]
//! with the earliest millisecond at which it can, and the server decides how
//! to wait. A clock that is behind by more than the configured tolerance is an
//! error, since waiting that long while holding the keyspace lock would stall
//! the server.

use crate::IdError;

/// Bits available below the sign bit.
pub const ID_BITS: u32 = 63;

/// 2020-01-01T00:00:00Z in Unix milliseconds: the default epoch.
pub const DEFAULT_EPOCH_MS: u64 = 1_577_836_800_000;

/// How the 63 value bits of an ID are split, and where time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Bits of milliseconds since `epoch_ms` (41 bits last about 69.7 years).
    pub time_bits: u8,
    pub datacenter_bits: u8,
    pub worker_bits: u8,
    /// Bits of per-millisecond sequence: at most `2^sequence_bits` IDs per
    /// millisecond per generator.
    pub sequence_bits: u8,
    /// Unix milliseconds that timestamp 0 stands for.
    pub epoch_ms: u64,
}

impl Default for Layout {
    /// 41 time bits, 5 datacenter bits, 5 worker bits, 12 sequence bits,
    /// epoch 2020-01-01T00:00:00Z.
    fn default() -> Self {
        Layout {
            time_bits: 41,
            datacenter_bits: 5,
            worker_bits: 5,
            sequence_bits: 12,
            epoch_ms: DEFAULT_EPOCH_MS,
        }
    }
}

/// `2^bits - 1`, for `bits` up to 64.
fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl Layout {
    /// Checks that the four fields sum to 63 bits and that at least one bit
    /// holds the timestamp. Datacenter, worker and sequence may be 0 bits.
    pub fn validate(&self) -> Result<(), IdError> {
        let total = u32::from(self.time_bits)
            + u32::from(self.datacenter_bits)
            + u32::from(self.worker_bits)
            + u32::from(self.sequence_bits);
        if total != ID_BITS {
            return Err(IdError::InvalidLayout(
                "time, datacenter, worker and sequence bits must sum to 63",
            ));
        }
        if self.time_bits == 0 {
            return Err(IdError::InvalidLayout("time_bits must be at least 1"));
        }
        Ok(())
    }

    /// The last Unix millisecond the layout can represent (saturating).
    pub fn max_timestamp_ms(&self) -> u64 {
        self.epoch_ms
            .saturating_add(mask(u32::from(self.time_bits)))
    }

    /// The largest datacenter number.
    pub fn max_datacenter(&self) -> u64 {
        mask(u32::from(self.datacenter_bits))
    }

    /// The largest worker number.
    pub fn max_worker(&self) -> u64 {
        mask(u32::from(self.worker_bits))
    }

    /// How many IDs one generator can issue per millisecond.
    pub fn ids_per_ms(&self) -> u64 {
        mask(u32::from(self.sequence_bits)).saturating_add(1)
    }

    fn worker_shift(&self) -> u32 {
        u32::from(self.sequence_bits)
    }

    fn datacenter_shift(&self) -> u32 {
        self.worker_shift() + u32::from(self.worker_bits)
    }

    fn time_shift(&self) -> u32 {
        self.datacenter_shift() + u32::from(self.datacenter_bits)
    }
}

/// What [`Generator::next`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Next {
    /// A fresh ID.
    Id(u64),
    /// No ID can be issued yet; call again when the clock reads at least
    /// this many Unix milliseconds.
    WaitUntil(u64),
}

/// The fields of an ID, as [`parse`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Parts {
    /// Unix milliseconds (the layout's epoch already added).
    pub timestamp_ms: u64,
    pub datacenter: u64,
    pub worker: u64,
    pub sequence: u64,
}

/// Splits `id` into its fields under `layout`. Never panics; for a layout
/// that fails [`Layout::validate`] the fields are meaningless.
pub fn parse(layout: &Layout, id: u64) -> Parts {
    let field = |shift: u32, bits: u8| id.checked_shr(shift).unwrap_or(0) & mask(u32::from(bits));
    Parts {
        timestamp_ms: layout
            .epoch_ms
            .saturating_add(field(layout.time_shift(), layout.time_bits)),
        datacenter: field(layout.datacenter_shift(), layout.datacenter_bits),
        worker: field(layout.worker_shift(), layout.worker_bits),
        sequence: field(0, layout.sequence_bits),
    }
}

/// Issues strictly increasing IDs for one (datacenter, worker) pair.
///
/// The generator is plain data (`Clone`, no interior state): the server keeps
/// one per configured worker and persists [`high_water_ms`](Self::high_water_ms)
/// so that a restarted server can call
/// [`restore_high_water`](Self::restore_high_water) and never reissue an ID,
/// even if its clock is now behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    layout: Layout,
    datacenter: u64,
    worker: u64,
    max_backward_ms: u64,
    /// The last millisecond (Unix) IDs were issued in or restored to; no
    /// future ID has a smaller timestamp.
    last_ms: Option<u64>,
    /// The next sequence number in `last_ms`; `ids_per_ms()` means the
    /// millisecond is used up.
    next_sequence: u64,
}

impl Generator {
    /// A generator for `datacenter` and `worker` under `layout`, tolerating a
    /// clock up to `max_backward_ms` behind the last issued timestamp (by
    /// answering [`Next::WaitUntil`] instead of an error).
    pub fn new(
        layout: Layout,
        datacenter: u64,
        worker: u64,
        max_backward_ms: u64,
    ) -> Result<Generator, IdError> {
        layout.validate()?;
        if datacenter > layout.max_datacenter() {
            return Err(IdError::DatacenterOutOfRange {
                value: datacenter,
                bits: layout.datacenter_bits,
            });
        }
        if worker > layout.max_worker() {
            return Err(IdError::WorkerOutOfRange {
                value: worker,
                bits: layout.worker_bits,
            });
        }
        Ok(Generator {
            layout,
            datacenter,
            worker,
            max_backward_ms,
            last_ms: None,
            next_sequence: 0,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn datacenter(&self) -> u64 {
        self.datacenter
    }

    pub fn worker(&self) -> u64 {
        self.worker
    }

    /// Promises never to issue an ID whose timestamp is `<= high_water_ms`
    /// (Unix ms), typically the value a previous run persisted. Calling it
    /// with an older value than the generator already holds changes nothing.
    pub fn restore_high_water(&mut self, high_water_ms: u64) {
        match self.last_ms {
            Some(last) if last > high_water_ms => {}
            _ => {
                self.last_ms = Some(high_water_ms);
                self.next_sequence = self.layout.ids_per_ms();
            }
        }
    }

    /// The highest timestamp (Unix ms) issued or restored so far, to persist
    /// for [`restore_high_water`](Self::restore_high_water); 0 if none.
    /// Persisting a value a little in the future (a lease) and restoring it
    /// avoids writing on every ID.
    pub fn high_water_ms(&self) -> u64 {
        self.last_ms.unwrap_or(0)
    }

    /// The next ID at `now_ms` (Unix milliseconds).
    ///
    /// * `Next::Id` when one can be issued now.
    /// * `Next::WaitUntil(t)` when the sequence of the current millisecond is
    ///   used up (`t = now + 1`), or the clock is behind the last issued
    ///   timestamp by at most `max_backward_ms` (`t` = that timestamp, or the
    ///   one after if its sequence is used up).
    /// * `Err(ClockMovedBackwards)` when the clock is further behind;
    ///   `Err(BeforeEpoch)` / `Err(TimestampOverflow)` when `now_ms` is outside
    ///   what the layout can represent.
    pub fn next(&mut self, now_ms: u64) -> Result<Next, IdError> {
        if let Some(wait) = self.not_before(now_ms)? {
            return Ok(Next::WaitUntil(wait));
        }
        let id = self.compose(now_ms, self.next_sequence);
        self.next_sequence += 1;
        Ok(Next::Id(id))
    }

    /// Issues up to `count` IDs at `now_ms` into `out`, all in the current
    /// millisecond (never in a future one): at most the sequence left in it,
    /// `2^sequence_bits` for a fresh millisecond. Returns `None` when all
    /// `count` were issued, or `Some(t)`: the rest must wait until Unix ms
    /// `t`. The IDs are exactly those `count` calls to [`next`](Self::next)
    /// would have issued. Errors as [`next`](Self::next), with nothing
    /// issued.
    pub fn next_batch(
        &mut self,
        now_ms: u64,
        count: usize,
        out: &mut Vec<u64>,
    ) -> Result<Option<u64>, IdError> {
        if count == 0 {
            return Ok(None);
        }
        if let Some(wait) = self.not_before(now_ms)? {
            return Ok(Some(wait));
        }
        let left_in_ms = self.layout.ids_per_ms() - self.next_sequence;
        let issued = u64::try_from(count).unwrap_or(u64::MAX).min(left_in_ms);
        out.reserve(usize::try_from(issued).unwrap_or(usize::MAX));
        for sequence in self.next_sequence..self.next_sequence + issued {
            out.push(self.compose(now_ms, sequence));
        }
        self.next_sequence += issued;
        if (issued as u128) < count as u128 {
            Ok(Some(now_ms.saturating_add(1)))
        } else {
            Ok(None)
        }
    }

    /// Moves the generator to `now_ms` if an ID can be issued there, or says
    /// when one can.
    fn not_before(&mut self, now_ms: u64) -> Result<Option<u64>, IdError> {
        let exhausted = self.next_sequence >= self.layout.ids_per_ms();
        match self.last_ms {
            Some(last) if now_ms < last => {
                let by_ms = last - now_ms;
                if by_ms > self.max_backward_ms {
                    return Err(IdError::ClockMovedBackwards { by_ms });
                }
                let wait = if exhausted {
                    last.saturating_add(1)
                } else {
                    last
                };
                return Ok(Some(wait));
            }
            Some(last) if now_ms == last => {
                self.check_representable(now_ms)?;
                return Ok(exhausted.then(|| last.saturating_add(1)));
            }
            _ => {}
        }
        self.check_representable(now_ms)?;
        self.last_ms = Some(now_ms);
        self.next_sequence = 0;
        Ok(None)
    }

    fn check_representable(&self, now_ms: u64) -> Result<(), IdError> {
        if now_ms < self.layout.epoch_ms {
            return Err(IdError::BeforeEpoch {
                now_ms,
                epoch_ms: self.layout.epoch_ms,
            });
        }
        let max_ms = self.layout.max_timestamp_ms();
        if now_ms > max_ms {
            return Err(IdError::TimestampOverflow { now_ms, max_ms });
        }
        Ok(())
    }

    /// Packs the fields; `now_ms` must be representable.
    fn compose(&self, now_ms: u64, sequence: u64) -> u64 {
        let layout = &self.layout;
        ((now_ms - layout.epoch_ms) << layout.time_shift())
            | (self.datacenter << layout.datacenter_shift())
            | (self.worker << layout.worker_shift())
            | sequence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_bit_positions() {
        let layout = Layout::default();
        assert_eq!(layout.validate(), Ok(()));
        let mut generator = Generator::new(layout, 3, 7, 0).unwrap();
        let now = DEFAULT_EPOCH_MS + 1;
        assert_eq!(
            generator.next(now),
            Ok(Next::Id((1 << 22) | (3 << 17) | (7 << 12)))
        );
        assert_eq!(
            generator.next(now),
            Ok(Next::Id((1 << 22) | (3 << 17) | (7 << 12) | 1))
        );
        // 41 bits of milliseconds from 2020 reach into 2089.
        assert_eq!(layout.max_timestamp_ms(), DEFAULT_EPOCH_MS + (1 << 41) - 1);
        assert_eq!(layout.ids_per_ms(), 4096);
    }

    #[test]
    fn zero_bit_fields() {
        let layout = Layout {
            time_bits: 63,
            datacenter_bits: 0,
            worker_bits: 0,
            sequence_bits: 0,
            epoch_ms: 0,
        };
        assert_eq!(layout.validate(), Ok(()));
        assert_eq!(layout.ids_per_ms(), 1);
        assert!(Generator::new(layout, 1, 0, 0).is_err());
        let mut generator = Generator::new(layout, 0, 0, 0).unwrap();
        assert_eq!(generator.next(5), Ok(Next::Id(5)));
        assert_eq!(generator.next(5), Ok(Next::WaitUntil(6)));
        assert_eq!(generator.next(u64::MAX >> 1), Ok(Next::Id(u64::MAX >> 1)));
        assert!(matches!(
            generator.next(u64::MAX),
            Err(IdError::TimestampOverflow { .. })
        ));
    }
}
