//! A sequence made one item ahead of its use: item `i + 1` is made while the consumer
//! works on item `i`, on another of the run's threads when it has one
//! ([`crate::model::Trainer::step_beside`]). The training batches and the test set's
//! noisy chunks are made this way: drawing their noise is a twelfth of a step and a sixth
//! of the test cost, and overlapped costs no wall time on a second core.

/// `total` items, each made by `make(i, buffer)` into one of two buffers, in order.
pub struct Ahead<T, M> {
    make: M,
    /// Items made so far, and in all.
    made: usize,
    total: usize,
    current: T,
    next: T,
    /// Whether `next` holds the item after `current`.
    next_ready: bool,
}

impl<T: Send, M: FnMut(usize, &mut T) + Send> Ahead<T, M> {
    /// The sequence, its first item made at once (none if there are none).
    pub fn new(total: usize, buffers: [T; 2], mut make: M) -> Self {
        let [mut current, next] = buffers;
        if total > 0 {
            make(0, &mut current);
        }
        Ahead {
            make,
            made: total.min(1),
            total,
            current,
            next,
            next_ready: false,
        }
    }

    /// Calls `work` with the current item and the work that makes the one after it
    /// (nothing after the last; nothing when called again), to run beside; then moves
    /// on to that item. An error from `work`, or when it did not make the next item and
    /// items remain.
    pub fn take<R>(
        &mut self,
        work: impl FnOnce(&T, &mut (dyn FnMut() + Send)) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let Ahead {
            make,
            made,
            total,
            current,
            next,
            next_ready,
        } = self;
        *next_ready = false;
        let mut make_next = || {
            if *made < *total && !*next_ready {
                make(*made, next);
                *made += 1;
                *next_ready = true;
            }
        };
        let result = work(current, &mut make_next)?;
        if self.next_ready {
            std::mem::swap(&mut self.current, &mut self.next);
        } else {
            anyhow::ensure!(self.made == self.total, "the next item was not made");
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_in_order_each_made_once() {
        let mut calls = Vec::new();
        let mut seen = Vec::new();
        {
            let mut ahead = Ahead::new(4, [0, 0], |i, x: &mut usize| {
                calls.push(i);
                *x = 10 * i;
            });
            for _ in 0..4 {
                ahead
                    .take(|x, make_next| {
                        seen.push(*x);
                        make_next();
                        make_next();
                        Ok(())
                    })
                    .unwrap();
            }
            ahead.take(|_, _| Ok(())).unwrap();
        }
        assert_eq!(seen, [0, 10, 20, 30]);
        assert_eq!(calls, [0, 1, 2, 3]);
    }

    #[test]
    fn moving_on_without_making_the_next_item_is_an_error() {
        let mut ahead = Ahead::new(2, [0, 0], |i, x: &mut usize| *x = i);
        assert!(ahead.take(|_, _| Ok(())).is_err());
    }

    #[test]
    fn an_empty_sequence_makes_nothing() {
        let mut ahead = Ahead::new(0, [1, 1], |_, _: &mut usize| panic!("made"));
        ahead
            .take(|_, make_next| {
                make_next();
                Ok(())
            })
            .unwrap();
    }
}
