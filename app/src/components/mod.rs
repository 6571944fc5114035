pub mod badges;
pub mod layout;
