//! Per-connection user state: a small type map, empty (and allocation-free) until used.

use std::any::{Any, TypeId};
use std::collections::HashMap;

type Map = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// Values of distinct types attached to one connection (like `http::Extensions`).
#[derive(Default)]
pub(crate) struct State(Option<Box<Map>>);

impl State {
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0
            .as_ref()?
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref())
    }

    pub(crate) fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.0
            .as_mut()?
            .get_mut(&TypeId::of::<T>())
            .and_then(|v| v.downcast_mut())
    }

    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.0
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|b| *b))
    }

    pub(crate) fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.0
            .as_mut()?
            .remove(&TypeId::of::<T>())
            .and_then(|old| old.downcast().ok().map(|b| *b))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }
}
