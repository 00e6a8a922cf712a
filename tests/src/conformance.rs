//! Conformance checks we can run here: what a host reads from a plugin before using it. Both
//! CLAP (through clack-host) and VST3 (calling the module's factory through its COM vtable)
//! are probed on the same built library.

use crate::clap_host::{load_entry, TestHost, TestHostShared};
use clack_extensions::audio_ports::PluginAudioPorts;
use clack_extensions::note_ports::{NoteDialects, NotePortInfoBuffer, PluginNotePorts};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_host::prelude::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;

/// What a CLAP host sees of one plugin.
#[derive(Debug)]
pub struct ClapReport {
    pub name: String,
    pub vendor: String,
    pub features: Vec<String>,
    pub note_inputs: u32,
    pub note_outputs: u32,
    pub midi_output: bool,
    pub audio_inputs: u32,
    pub audio_outputs: u32,
    /// (id, name, min, default, max) of every parameter.
    pub params: Vec<(u32, String, f64, f64, f64)>,
}

pub fn clap_report(library: &Path, plugin_id: &str) -> ClapReport {
    let entry = load_entry(library);
    let factory = entry.get_plugin_factory().expect("plugin factory");
    let descriptor = factory
        .plugin_descriptors()
        .find(|d| {
            d.id()
                .is_some_and(|id| id.to_bytes() == plugin_id.as_bytes())
        })
        .expect("the factory lists the plugin");
    let text = |c: Option<&CStr>| {
        c.map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let name = text(descriptor.name());
    let vendor = text(descriptor.vendor());
    let features = descriptor
        .features()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let host_info = HostInfo::new("conformance", "Infinite Jazz", "https://localhost", "1.0")
        .expect("host info");
    let id = CString::new(plugin_id).expect("id");
    let mut instance =
        PluginInstance::<TestHost>::new(|_| TestHostShared, |_| (), entry, &id, &host_info)
            .expect("instantiates");
    let handle = instance.plugin_handle();
    let (mut note_inputs, mut note_outputs, mut midi_output) = (0, 0, false);
    if let Some(ports) = handle.get_extension::<PluginNotePorts>() {
        note_inputs = ports.count(&handle, true);
        note_outputs = ports.count(&handle, false);
        let mut buffer = NotePortInfoBuffer::new();
        midi_output = (0..note_outputs).any(|i| {
            ports
                .get(&handle, i, false, &mut buffer)
                .is_some_and(|info| info.supported_dialects.contains(NoteDialects::MIDI))
        });
    }
    let (mut audio_inputs, mut audio_outputs) = (0, 0);
    if let Some(ports) = handle.get_extension::<PluginAudioPorts>() {
        audio_inputs = ports.count(&handle, true);
        audio_outputs = ports.count(&handle, false);
    }
    let mut params = Vec::new();
    if let Some(ext) = handle.get_extension::<PluginParams>() {
        let mut buffer = ParamInfoBuffer::new();
        for i in 0..ext.count(&handle) {
            if let Some(info) = ext.get_info(&handle, i, &mut buffer) {
                params.push((
                    info.id.get(),
                    String::from_utf8_lossy(info.name).into_owned(),
                    info.min_value,
                    info.default_value,
                    info.max_value,
                ));
            }
        }
    }
    ClapReport {
        name,
        vendor,
        features,
        note_inputs,
        note_outputs,
        midi_output,
        audio_inputs,
        audio_outputs,
        params,
    }
}

/// What a VST3 host sees in the module's factory.
#[derive(Debug)]
pub struct Vst3Report {
    pub vendor: String,
    /// (category, name) of each class.
    pub classes: Vec<(String, String)>,
}

#[repr(C)]
struct PFactoryInfo {
    vendor: [c_char; 64],
    url: [c_char; 256],
    email: [c_char; 128],
    flags: i32,
}

#[repr(C)]
struct PClassInfo {
    cid: [u8; 16],
    cardinality: i32,
    category: [c_char; 32],
    name: [c_char; 64],
}

/// IPluginFactory's vtable: FUnknown's three methods, then the factory's four.
#[repr(C)]
struct FactoryVtable {
    query_interface: unsafe extern "C" fn(*mut c_void, *const u8, *mut *mut c_void) -> i32,
    add_ref: unsafe extern "C" fn(*mut c_void) -> u32,
    release: unsafe extern "C" fn(*mut c_void) -> u32,
    get_factory_info: unsafe extern "C" fn(*mut c_void, *mut PFactoryInfo) -> i32,
    count_classes: unsafe extern "C" fn(*mut c_void) -> i32,
    get_class_info: unsafe extern "C" fn(*mut c_void, i32, *mut PClassInfo) -> i32,
}

fn c_text(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Loads the library as a Linux VST3 host does: `ModuleEntry`, then `GetPluginFactory`.
pub fn vst3_report(library: &Path) -> Vst3Report {
    // SAFETY: one of our own libraries; it stays loaded for the rest of the process.
    let lib = unsafe { libloading::Library::new(library) }.expect("library loads");
    let report = unsafe {
        let module_entry: libloading::Symbol<unsafe extern "C" fn(*mut c_void) -> bool> =
            lib.get(b"ModuleEntry").expect("ModuleEntry is exported");
        assert!(module_entry(std::ptr::null_mut()), "ModuleEntry succeeds");
        let _exit: libloading::Symbol<unsafe extern "C" fn() -> bool> =
            lib.get(b"ModuleExit").expect("ModuleExit is exported");
        let get_factory: libloading::Symbol<unsafe extern "C" fn() -> *mut c_void> = lib
            .get(b"GetPluginFactory")
            .expect("GetPluginFactory is exported");
        let factory = get_factory();
        assert!(!factory.is_null(), "a factory");
        let vtable = &**(factory as *mut *const FactoryVtable);
        let mut info: PFactoryInfo = std::mem::zeroed();
        assert_eq!(
            (vtable.get_factory_info)(factory, &mut info),
            0,
            "getFactoryInfo is kResultOk"
        );
        let count = (vtable.count_classes)(factory);
        let mut classes = Vec::new();
        for i in 0..count {
            let mut class: PClassInfo = std::mem::zeroed();
            assert_eq!((vtable.get_class_info)(factory, i, &mut class), 0);
            classes.push((c_text(&class.category), c_text(&class.name)));
        }
        (vtable.release)(factory);
        Vst3Report {
            vendor: c_text(&info.vendor),
            classes,
        }
    };
    std::mem::forget(lib);
    report
}
