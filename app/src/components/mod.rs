pub mod badges;
pub mod chart;
pub mod layout;
pub mod topology;
