# Re-plot by hand: gnuplot deep_mlp_at_init.gp (writes deep_mlp_at_init.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('deep_mlp_at_init.gp')]
if (!exists('out')) out = here . 'deep_mlp_at_init.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title '20-layer ReLU MLP at initialization'
set xlabel 'layer (1 = input side)'
set ylabel '‖dL/dW_l‖'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
plot here . 'deep_mlp_at_init.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
