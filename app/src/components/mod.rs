pub mod badges;
pub mod layout;
pub mod topology;
